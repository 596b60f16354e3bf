"""The version matrix: ``nox`` (every cell) or ``nox -s redis_py`` / ``-s django`` / ``-s python``.

Every cell installs from the lock (requirements/ci.txt) with only the package under test
taken out of it, so a cell differs from CI's main run in that one version. ``.ci/run``
runs every cell and prints the table of results (``nox`` prints one line per cell).

- ``redis_py``: the lowest redis-py we declare, the last of each major, 8.0, 8.1 and the
  newest: ``tests/core`` (connections, the lean clients and their compat check) and the
  smoke module (each pattern once, on standalone and Cluster).
- ``django``: 4.2 LTS, 5.2 LTS, 6.0 and the newest release: the smoke module. Django 6 needs
  Python 3.12 or newer.
- ``python``: Python 3.13 with the lock: ``tests/core`` and the smoke module.
"""

from __future__ import annotations

import pathlib
import re

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.options.reuse_venv = "no"

ROOT = pathlib.Path(__file__).parent
LOCK = ROOT / "requirements" / "ci.txt"
SMOKE = "tests/smoke"
CORE = "tests/core"
# Not about the versions a cell varies: the benchmark's own setup, and the package's type
# annotations checked by mypy (both installed from the lock by the main run only).
NOT_IN_MATRIX = ("--ignore", "tests/core/test_bench_setup.py", "--ignore", "tests/core/test_typing.py")

REDIS_PY = ["5.0.8", "5.3.1", "6.4.0", "7.4.1", "8.0.1", "8.1.0", "8.2.0"]
DJANGO = [("4.2.30", "3.11"), ("5.2.19", "3.11"), ("6.0.10", "3.12"), ("6.1.3", "3.12")]


def _lock_without(session: nox.Session, *names: str) -> str:
    """The lock with ``names`` taken out, written to the session's tmp dir."""
    pattern = re.compile(rf"^({'|'.join(re.escape(n) for n in names)})==", re.IGNORECASE)
    lines = [line for line in LOCK.read_text().splitlines() if not pattern.match(line)]
    path = pathlib.Path(session.create_tmp()) / "constraints.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _pytest(session: nox.Session, *paths: str) -> None:
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not tls and not slow",
        *NOT_IN_MATRIX,
        *paths,
        *session.posargs,
    )


@nox.session(python="3.11")
@nox.parametrize("redis_py", REDIS_PY)
def redis_py(session: nox.Session, redis_py: str) -> None:
    session.install("-c", _lock_without(session, "redis"), "-e", ".[test]", f"redis=={redis_py}")
    _pytest(session, CORE, SMOKE)


@nox.session
@nox.parametrize(("django", "python"), DJANGO)
def django(session: nox.Session, django: str) -> None:
    # django-redis follows Django's releases: the resolver picks the one for this Django.
    session.install("-c", _lock_without(session, "django", "django-redis"), "-e", ".[test]", f"django=={django}")
    _pytest(session, SMOKE)


@nox.session(python="3.13")
def python(session: nox.Session) -> None:
    session.install("-c", str(LOCK), "-e", ".[test]")
    _pytest(session, CORE, SMOKE)


@nox.session(python="3.11")
def build(session: nox.Session) -> None:
    """sdist and wheel into dist/, checked by twine."""
    session.install("build", "twine")
    dist = ROOT / "dist"
    for old in dist.glob("django_redis_patterns-*"):
        old.unlink()
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    session.run("python", "-m", "twine", "check", "--strict", *map(str, dist.glob("django_redis_patterns-*")))


@nox.session(python="3.11", requires=["build"])
def wheel(session: nox.Session) -> None:
    """The built wheel in a clean venv (no dev extras): every pattern once, standalone and Cluster."""
    (wheel_file,) = (ROOT / "dist").glob("django_redis_patterns-*.whl")
    session.install("-c", str(LOCK), str(wheel_file))
    smoke = str(ROOT / "tests" / "wheel" / "smoke.py")
    # From a directory outside the repository: the package must come from the wheel.
    with session.chdir(session.create_tmp()):
        session.run("python", "-c", "import django_redis_patterns, sys; print(django_redis_patterns.__file__)")
        for kind in ("standalone", "cluster"):
            session.run("python", "-I", smoke, kind)
