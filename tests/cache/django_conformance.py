"""Run Django's own cache test suite against our backend (in a subprocess of its own).

    python -m tests.cache.django_conformance --location '"redis://127.0.0.1:6400/0"' [--async-bridge]

Django's ``tests/cache/tests.py`` comes from the sdist of the installed Django version
(:func:`tests.django_sdist.django_tests_dir`); nothing of it is copied here. The suite is
``BaseCacheTests``, the class Django runs against each of its own backends, with the
``CACHES`` layout Django builds for its Redis backend (``caches_setting_for_tests`` minus
``redis_excluded_caches``, i.e. only the cull caches).

``--async-bridge`` runs the same suite through a subclass whose sync methods call our
``a*`` methods on one background event loop, so Django's assertions check the native
async implementations too (Django's ``tests_async.py`` only covers the dummy backend).

The last line of output is a JSON summary read by ``test_django_conformance.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import unittest
from typing import Any

from tests.django_sdist import django_tests_dir

BACKEND = "django_redis_patterns.cache.RedisCache"
BRIDGE_BACKEND = "tests.cache.django_conformance.AsyncBridgeCache"


def _configure(location: Any, backend: str) -> None:
    import django
    from django.conf import settings

    sys.path.append(str(django_tests_dir()))
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-conformance",
        USE_TZ=False,
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3"},
            "other": {"ENGINE": "django.db.backends.sqlite3"},
        },
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            "django.contrib.messages",
            "cache",  # Django's test app (tests/cache/models.py)
        ],
        CACHES={"default": {"BACKEND": backend, "LOCATION": location}},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        MIDDLEWARE=[],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()


def _suite(location: Any, backend: str) -> unittest.TestSuite:
    from cache import tests as django_cache_tests  # type: ignore[import-not-found]
    from django.test import TestCase, override_settings

    params = {"BACKEND": backend, "LOCATION": location}
    caches_setting = django_cache_tests.caches_setting_for_tests(
        base=params, exclude=django_cache_tests.redis_excluded_caches
    )
    cls = type(
        "DjangoRedisPatternsCacheTests",
        (django_cache_tests.BaseCacheTests, TestCase),
        {"__module__": __name__},
    )
    cls = override_settings(CACHES=caches_setting)(cls)
    return unittest.TestLoader().loadTestsFromTestCase(cls)


def _run(location: Any, backend: str) -> dict[str, Any]:
    from django.test.runner import DiscoverRunner

    _configure(location, backend)
    runner = DiscoverRunner(verbosity=1, interactive=False)
    runner.setup_test_environment()
    old_config = runner.setup_databases()
    try:
        result = runner.run_suite(_suite(location, backend))
    finally:
        runner.teardown_databases(old_config)
        runner.teardown_test_environment()

    def name(test: Any) -> str:
        return str(test.id().rsplit(".", 1)[-1])

    return {
        "ran": result.testsRun,
        "failures": [name(t) for t, _ in result.failures],
        "errors": [name(t) for t, _ in result.errors],
        "skipped": sorted(name(t) for t, _ in result.skipped),
        "expected_failures": [name(t) for t, _ in result.expectedFailures],
        "unexpected_successes": [name(t) for t in result.unexpectedSuccesses],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--location", required=True, help="the LOCATION, as JSON (a string or a list)")
    parser.add_argument("--async-bridge", action="store_true", help="run the suite through the a* methods")
    args = parser.parse_args(argv)
    summary = _run(json.loads(args.location), BRIDGE_BACKEND if args.async_bridge else BACKEND)
    print(json.dumps(summary))
    ok = not (summary["failures"] or summary["errors"] or summary["unexpected_successes"])
    return 0 if ok else 1


# -- the async bridge ------------------------------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="async-bridge", daemon=True).start()
        return _loop


def _bridge(name: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        coro = getattr(self, "a" + name)(*args, **kwargs)
        return asyncio.run_coroutine_threadsafe(coro, _background_loop()).result()

    method.__name__ = name
    return method


def _make_bridge_class() -> type:
    from django_redis_patterns.cache import RedisCache

    names = [
        "get",
        "set",
        "add",
        "touch",
        "delete",
        "get_many",
        "set_many",
        "delete_many",
        "has_key",
        "incr",
        "decr",
        "incr_version",
        "decr_version",
        "clear",
        "get_or_set",
    ]
    return type("AsyncBridgeCache", (RedisCache,), {name: _bridge(name) for name in names})


def __getattr__(name: str) -> Any:
    # Built lazily: importing the backend needs configured settings.
    if name == "AsyncBridgeCache":
        cls = _make_bridge_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


if __name__ == "__main__":
    raise SystemExit(main())
