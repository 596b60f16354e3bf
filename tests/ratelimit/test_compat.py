"""django-ratelimit compatibility: the same view code, imported from either package, answers
the same sequence of requests the same way."""

from __future__ import annotations

from typing import Any

import django_ratelimit.core
import django_ratelimit.decorators
import django_ratelimit.exceptions
import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory

from django_redis_patterns.ratelimit import core as our_core
from django_redis_patterns.ratelimit import decorators as our_decorators
from django_redis_patterns.ratelimit import exceptions as our_exceptions
from tests.ratelimit.conftest import ratelimit_settings


@pytest.fixture
def locmem_for_django_ratelimit(settings: Any) -> None:
    # django-ratelimit keeps its counters in a Django cache; give it a private one.
    settings.CACHES = {**settings.CACHES, "dr": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.RATELIMIT_USE_CACHE = "dr"
    # ... which our limiter would read as its alias too: keep ours on Redis (REDIS_PATTERNS wins).
    ratelimit_settings(settings, USING="default")


def build_views(decorators: Any) -> dict[str, Any]:
    """A small app written against django-ratelimit's API; ``decorators`` is either package."""
    ratelimit = decorators.ratelimit

    @ratelimit(key="ip", rate="3/d", method="POST")
    def login(request: Any) -> HttpResponse:
        return HttpResponse("welcome")

    @ratelimit(key="header:x-api-key", rate="2/d", block=False)
    def api(request: Any) -> HttpResponse:
        return HttpResponse("slow down" if request.limited else "data")

    @ratelimit(group="search", key="get:q", rate=(2, 86400), method=ratelimit.ALL)
    def search(request: Any) -> HttpResponse:
        return HttpResponse("results")

    @ratelimit(key="ip", rate=lambda group, request: None if request.GET.get("vip") else "1/d")
    def vip(request: Any) -> HttpResponse:
        return HttpResponse("vip")

    return {"login": login, "api": api, "search": search, "vip": vip}


SCRIPT = [
    ("login", "get", {}),
    ("login", "post", {}),
    ("login", "post", {}),
    ("login", "post", {}),
    ("login", "post", {}),
    ("login", "get", {}),
    ("login", "post", {"REMOTE_ADDR": "192.0.2.99"}),
    ("api", "get", {"HTTP_X_API_KEY": "k1"}),
    ("api", "get", {"HTTP_X_API_KEY": "k1"}),
    ("api", "get", {"HTTP_X_API_KEY": "k1"}),
    ("api", "get", {"HTTP_X_API_KEY": "k2"}),
    ("search", "get", {"QUERY_STRING": "q=redis"}),
    ("search", "get", {"QUERY_STRING": "q=redis"}),
    ("search", "get", {"QUERY_STRING": "q=redis"}),
    ("search", "get", {"QUERY_STRING": "q=django"}),
    ("vip", "get", {"QUERY_STRING": "vip=1"}),
    ("vip", "get", {"QUERY_STRING": "vip=1"}),
    ("vip", "get", {}),
    ("vip", "get", {}),
]


def play(views: dict[str, Any], exception_class: type) -> list[tuple[str, Any]]:
    rf = RequestFactory()
    outcomes: list[tuple[str, Any]] = []
    for name, method, meta in SCRIPT:
        request = getattr(rf, method)("/", **{"REMOTE_ADDR": "192.0.2.1", **meta})
        request.user = AnonymousUser()
        try:
            response = views[name](request)
            outcomes.append((name, response.content.decode()))
        except exception_class as exc:
            assert isinstance(exc, exception_class)
            outcomes.append((name, "403 Ratelimited"))
    return outcomes


def test_same_view_code_same_answers(topology: Any, locmem_for_django_ratelimit: None) -> None:
    theirs = play(build_views(django_ratelimit.decorators), django_ratelimit.exceptions.Ratelimited)
    ours = play(build_views(our_decorators), our_exceptions.Ratelimited)
    assert ours == theirs
    assert ("login", "403 Ratelimited") in ours and ("api", "slow down") in ours  # the script hit the limits


def test_same_is_ratelimited_answers_with_increment(topology: Any, locmem_for_django_ratelimit: None) -> None:
    rf = RequestFactory()

    def sequence(module: Any) -> list[bool]:
        answers = []
        for ip in ["192.0.2.1"] * 4 + ["192.0.2.2"]:
            request = rf.post("/", REMOTE_ADDR=ip)
            answers.append(module.is_ratelimited(request, group="g", key="ip", rate="3/d", increment=True))
        return answers

    assert sequence(our_core) == sequence(django_ratelimit.core) == [False, False, False, True, False]


def test_exceptions_are_permission_denied_like_theirs() -> None:
    from django.core.exceptions import PermissionDenied

    assert issubclass(our_exceptions.Ratelimited, PermissionDenied)
    assert issubclass(django_ratelimit.exceptions.Ratelimited, PermissionDenied)
    assert our_core.ALL == django_ratelimit.ALL and our_core.UNSAFE == django_ratelimit.UNSAFE
