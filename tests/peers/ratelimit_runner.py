"""Run django-ratelimit's and DRF's own throttling tests against our rate limiter (in a subprocess).

    python -m tests.peers.ratelimit_runner django-ratelimit --location redis://127.0.0.1:6400/0
    python -m tests.peers.ratelimit_runner drf --location redis://127.0.0.1:6400/0

The tests come from the sdists of the installed versions (:func:`tests.sdist.sdist_tree`);
nothing of them is copied here. Only imports are swapped, by a shim installed before the
peer's test module is imported:

* django-ratelimit (``django_ratelimit/tests.py``): a synthetic ``django_ratelimit`` package
  whose ``decorators`` and ``exceptions`` are our modules and whose ``core`` holds our
  ``get_usage``/``is_ratelimited`` plus the two private helpers the tests import,
  ``_get_ip`` (our ``client_ip``) and ``_split_rate`` (our rate parser, answering as a
  ``(count, seconds)`` tuple). The package's path is the sdist's, so ``django_ratelimit.tests``
  (and the dotted paths the tests name, such as ``django_ratelimit.tests.mykey``) are theirs.
* DRF (``tests/test_throttling.py``): while the test module is imported,
  ``rest_framework.throttling`` is a module holding DRF's ``BaseThrottle`` and our
  ``SimpleRateThrottle``, ``AnonRateThrottle``, ``UserRateThrottle`` and ``ScopedRateThrottle``,
  so every throttle the tests define subclasses ours. The real module is put back after.

Settings are written here, as the peers' own are not in their sdists. The cache aliases
keep django-ratelimit's names: ``default`` is our backend on the test's private Redis
(``CLEAR="flushdb"``, so the suites' ``cache.clear()`` in ``setUp`` empties the limiter's
counters, as it empties theirs); ``connection-errors`` and ``connection-errors-redis`` are
ours and Django's Redis backends on a unix socket that does not exist (theirs: memcached
and Redis at a host that does not resolve); ``instant-expiration`` is Django's DummyCache
(as theirs). Tests run in each peer's own order: django-ratelimit's runner is Django's
(classes and methods sorted), DRF's is pytest (definition order).

The last line of output is a JSON summary: ``{"ran", "passed", "failed", "skipped"}``, with
test names ``Class.method``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types
import unittest
from pathlib import Path
from typing import Any

from tests.sdist import sdist_tree

SUITES = {"django-ratelimit": "django-ratelimit", "drf": "djangorestframework"}
ROOT = Path(__file__).resolve().parents[2]


def run_in_subprocess(which: str, location: str) -> tuple[dict[str, Any], str]:
    """Run one suite in a fresh interpreter; (JSON summary, whole output)."""
    sdist_tree(SUITES[which], *(["tests"] if which == "drf" else []))  # fetch outside the subprocess
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "tests.peers.ratelimit_runner", which, "--location", location],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the {which} runner printed no summary:\n{output}"
    return json.loads(lines[-1]), output


def summary_line(which: str, summary: dict[str, Any], excluded: dict[str, str]) -> str:
    """``django-ratelimit 4.1.0 django_ratelimit/tests.py: 52 of 52 passed`` (+ exclusions)."""
    label, path = {
        "django-ratelimit": ("django-ratelimit", "django_ratelimit/tests.py"),
        "drf": ("DRF", "tests/test_throttling.py"),
    }[which]
    version = importlib.metadata.version(SUITES[which])
    line = f"{label} {version} {path}: {len(summary['passed'])} of {len(summary['ran'])} passed"
    if excluded:
        line += f" ({len(excluded)} excluded, see tests/peers/ratelimit_exclusions.py)"
    passing = sorted(set(excluded) & set(summary["passed"]))
    if passing:
        line += f"; excluded but passing now: {', '.join(passing)}"
    return line


def _configure(location: str, extra_apps: list[str]) -> None:
    import django
    from django.conf import settings

    nowhere = f"unix://{tempfile.gettempdir()}/drp-peers-no-such-dir/redis.sock"
    settings.configure(
        DEBUG=False,
        SECRET_KEY="peer-suites",
        USE_TZ=True,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "django_redis_patterns",
            "django_redis_patterns.ratelimit",
            *extra_apps,
        ],
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        CACHES={
            "default": {
                "BACKEND": "django_redis_patterns.cache.RedisCache",
                "LOCATION": location,
                "OPTIONS": {"CLEAR": "flushdb"},
            },
            "connection-errors": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": nowhere},
            "connection-errors-redis": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": nowhere},
            "instant-expiration": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
        },
        RATELIMIT_USE_CACHE="default",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        ROOT_URLCONF=__name__,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()


urlpatterns: list[Any] = []


# -- the shims --------------------------------------------------------------------------------


def _split_rate(rate: Any) -> Any:
    """django-ratelimit's ``_split_rate`` answered by our parser: ``(count, seconds)``."""
    from django_redis_patterns.ratelimit.rates import parse

    if isinstance(rate, tuple):
        return rate
    first = parse(rate)[0]
    return first.limit, first.period


def install_django_ratelimit_shim(sdist: Path) -> None:
    from django_redis_patterns.ratelimit import clientip, core, decorators, exceptions

    package = types.ModuleType("django_ratelimit")
    package.__path__ = [str(sdist / "django_ratelimit")]  # django_ratelimit.tests is theirs
    package.ALL = core.ALL  # type: ignore[attr-defined]
    package.UNSAFE = core.UNSAFE  # type: ignore[attr-defined]
    core_shim = types.ModuleType("django_ratelimit.core")
    core_shim.get_usage = core.get_usage  # type: ignore[attr-defined]
    core_shim.is_ratelimited = core.is_ratelimited  # type: ignore[attr-defined]
    core_shim._get_ip = clientip.client_ip  # type: ignore[attr-defined]
    core_shim._split_rate = _split_rate  # type: ignore[attr-defined]
    sys.modules["django_ratelimit"] = package
    sys.modules["django_ratelimit.core"] = core_shim
    sys.modules["django_ratelimit.decorators"] = decorators
    sys.modules["django_ratelimit.exceptions"] = exceptions
    package.core = core_shim  # type: ignore[attr-defined]
    package.decorators = decorators  # type: ignore[attr-defined]
    package.exceptions = exceptions  # type: ignore[attr-defined]


def import_drf_tests(sdist: Path) -> types.ModuleType:
    import rest_framework.throttling as real

    from django_redis_patterns.ratelimit import drf

    shim = types.ModuleType("rest_framework.throttling")
    shim.BaseThrottle = real.BaseThrottle  # type: ignore[attr-defined]
    shim.SimpleRateThrottle = drf.SimpleRateThrottle  # type: ignore[attr-defined]
    shim.AnonRateThrottle = drf.AnonRateThrottle  # type: ignore[attr-defined]
    shim.UserRateThrottle = drf.UserRateThrottle  # type: ignore[attr-defined]
    shim.ScopedRateThrottle = drf.ScopedRateThrottle  # type: ignore[attr-defined]
    spec = importlib.util.spec_from_file_location("drf_test_throttling", sdist / "tests" / "test_throttling.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rest_framework.throttling"] = shim
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules["rest_framework.throttling"] = real
    sys.modules[spec.name] = module
    return module


# -- the suites -------------------------------------------------------------------------------


def django_ratelimit_suite() -> unittest.TestSuite:
    sdist = sdist_tree("django-ratelimit")
    _configure(_location, [])
    install_django_ratelimit_shim(sdist)
    import django_ratelimit.tests as theirs  # type: ignore[import-not-found]

    from django_redis_patterns.ratelimit import decorators

    assert theirs.ratelimit is decorators.ratelimit, "the shim did not take: the tests would run django-ratelimit"
    return unittest.defaultTestLoader.loadTestsFromModule(theirs)


def drf_suite() -> unittest.TestSuite:
    sdist = sdist_tree("djangorestframework", "tests")
    _configure(_location, ["rest_framework"])
    module = import_drf_tests(sdist)
    from django_redis_patterns.ratelimit import drf

    assert issubclass(module.User3SecRateThrottle, drf.RedisRateThrottle), "the shim did not take"
    suite = unittest.TestSuite()
    for cls in vars(module).values():  # definition order, as pytest runs them
        if isinstance(cls, type) and issubclass(cls, unittest.TestCase) and cls.__module__ == module.__name__:
            for name in vars(cls):
                if name.startswith("test") and callable(getattr(cls, name)):
                    suite.addTest(cls(name))
    return suite


_location = ""


def run(which: str, location: str) -> dict[str, Any]:
    global _location
    _location = location
    suite = django_ratelimit_suite() if which == "django-ratelimit" else drf_suite()
    from django.test.runner import DiscoverRunner

    ran = sorted(name(t) for t in _tests(suite))  # before running: a suite drops tests as they run
    runner = DiscoverRunner(verbosity=1, interactive=False)
    runner.setup_test_environment()
    old_config = runner.setup_databases()
    try:
        result = runner.run_suite(suite)
    finally:
        runner.teardown_databases(old_config)
        runner.teardown_test_environment()

    failed = sorted({name(t) for t, _ in result.failures + result.errors})
    failed += sorted(name(t) for t in result.unexpectedSuccesses)
    skipped = sorted(name(t) for t, _ in result.skipped)
    return {
        "ran": ran,
        "passed": [t for t in ran if t not in failed and t not in skipped],
        "failed": failed,
        "skipped": skipped,
    }


def name(test: Any) -> str:
    return ".".join(test.id().rsplit(".", 2)[-2:])


def _tests(suite: unittest.TestSuite) -> list[Any]:
    found: list[Any] = []
    for item in suite:
        found += _tests(item) if isinstance(item, unittest.TestSuite) else [item]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--location", required=True, help="the Redis URL of the default cache")
    args = parser.parse_args(argv)
    summary = run(args.suite, args.location)
    print(json.dumps(summary))
    return 0 if not summary["failed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
