"""A logged-in request's ``request.user``: from Redis (CachedModelBackend) or from SQL (ModelBackend).

One request = our session middleware + Django's AuthenticationMiddleware + a view that reads
``request.user.username``, called in-process (no HTTP), for a session made by ``login()``:

* ours: ``sessions.auth.CachedModelBackend``: the signed user record from Redis (one MGET,
  HMAC check, the row rebuilt with ``Model.from_db``), no SQL;
* Django's ``ModelBackend``: one SQL query per request (SQLite in memory here, the cheapest
  database there is: a networked database widens the gap).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.core.management import call_command
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

CACHED = "django_redis_patterns.sessions.auth.CachedModelBackend"
PLAIN = "django.contrib.auth.backends.ModelBackend"


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.user.get_username())


def _session(user: Any, backend: str) -> str:
    from django_redis_patterns.sessions.backend import SessionStore

    session = SessionStore()
    session[SESSION_KEY], session[BACKEND_SESSION_KEY] = str(user.pk), backend  # as login() writes them
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key  # type: ignore[no-any-return]


def _request(key: str, expected: bytes) -> Any:
    from django_redis_patterns.sessions.middleware import SessionMiddleware

    handler = SessionMiddleware(AuthenticationMiddleware(_view))
    factory = RequestFactory()

    def one() -> None:
        request = factory.get("/me/")
        request.COOKIES[settings.SESSION_COOKIE_NAME] = key
        response = handler(request)
        assert response.content == expected

    return one


def run(ctx: Any) -> None:
    settings.SESSION_ENGINE = "django_redis_patterns.sessions.backend"
    settings.AUTHENTICATION_BACKENDS = [CACHED, PLAIN]
    call_command("migrate", verbosity=0, interactive=False)
    user, _ = get_user_model().objects.get_or_create(username="bench-player")
    user.set_password("x")
    user.save()
    requests = {
        "ours: cached user (CachedModelBackend)": _request(_session(user, CACHED), b"bench-player"),
        "Django ModelBackend (SQL)": _request(_session(user, PLAIN), b"bench-player"),
    }
    for name, one in requests.items():
        one()  # the first request of each reads the row (and ours caches it)
        with CaptureQueriesContext(connection) as queries:
            one()
        ctx.record("SQL queries per logged-in request", name, len(queries))
    ctx.compare("logged-in request, request.user", requests, number=1500)
