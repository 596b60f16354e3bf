"""Smoke test of an installed wheel, in a clean venv without the dev extras: ``python smoke.py``.

Run from outside the repository (so the package comes from site-packages, not the source
tree) by the ``wheel`` session of noxfile.py. It starts a private redis-server with the
package's own ``testing.servers`` (standalone, then a Cluster), configures Django with the
README's settings snippet, and uses every pattern once, asserting what a user would see.
Exits non-zero (a traceback) on the first failure.
"""

from __future__ import annotations

import os
import sys
from importlib import resources


def check_package_data() -> None:
    import django_redis_patterns

    assert "site-packages" in (django_redis_patterns.__file__ or ""), django_redis_patterns.__file__
    for package in ("ratelimit", "locks", "leaderboard", "sessions", "cache"):
        lua = [p.name for p in resources.files(f"django_redis_patterns.{package}").joinpath("lua").iterdir()]
        assert any(name.endswith(".lua") for name in lua), (package, lua)
    templates = resources.files("django_redis_patterns.leaderboard").joinpath("templates")
    assert templates.is_dir(), "leaderboard templates missing from the wheel"
    assert resources.files("django_redis_patterns").joinpath("py.typed").is_file()


def configure(redis_url: str) -> None:
    import django
    from django.conf import settings

    # The README's settings snippet (Install and configure), with REDIS_URL from the environment.
    os.environ["REDIS_URL"] = redis_url
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="wheel-smoke",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_redis_patterns",
            "django_redis_patterns.cache",
            "django_redis_patterns.sessions",
            "django_redis_patterns.ratelimit",
            "django_redis_patterns.locks",
            "django_redis_patterns.leaderboard",
        ],
        CACHES={"default": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": REDIS_URL}},
        SESSION_ENGINE="django_redis_patterns.sessions.backend",
        USE_TZ=True,
    )
    django.setup()


urlpatterns: list[object] = []


def use_every_pattern() -> None:
    from django.core import checks
    from django.core.cache import cache
    from django.http import HttpResponse
    from django.test import RequestFactory

    from django_redis_patterns import get_redis
    from django_redis_patterns.leaderboard import Leaderboard
    from django_redis_patterns.locks import LockNotAcquired, lock
    from django_redis_patterns.ratelimit import ratelimit
    from django_redis_patterns.sessions.backend import SessionStore

    errors = [m for m in checks.run_checks() if m.level >= checks.ERROR]
    assert not errors, errors
    assert get_redis().ping() is True

    cache.set("smoke", {"ok": True}, timeout=30)
    assert cache.get("smoke") == {"ok": True}
    assert cache.get_or_set("built", lambda: 42, timeout=30) == 42

    session = SessionStore()
    session["user"] = "ada"
    session.save()
    assert SessionStore(session.session_key)["user"] == "ada"

    @ratelimit(key="ip", rate="3/m", block=False)
    def view(request: object) -> HttpResponse:
        return HttpResponse(b"limited" if getattr(request, "limited", False) else b"ok")

    replies = [view(RequestFactory().get("/", REMOTE_ADDR="198.51.100.7")).content for _ in range(5)]
    assert replies == [b"ok"] * 3 + [b"limited"] * 2, replies

    with lock("nightly", ttl=10):
        try:
            with lock("nightly", ttl=10, blocking=False):
                raise AssertionError("two holders")
        except LockNotAcquired:
            pass

    board = Leaderboard("smoke")
    for member, score in (("ada", 30), ("bob", 10), ("cy", 20)):
        board.set_score(member, score)
    assert [(e.member, e.rank) for e in board.top(3)] == [("ada", 1), ("cy", 2), ("bob", 3)]
    assert board.rank_of("bob") == 3


def main() -> None:
    from django_redis_patterns.testing import servers

    check_package_data()
    kind = sys.argv[1] if len(sys.argv) > 1 else "standalone"
    with servers.running(kind) as group:
        configure(group.url)
        use_every_pattern()
    print(f"wheel smoke ({kind}): every pattern works from the installed wheel")


if __name__ == "__main__":
    main()
