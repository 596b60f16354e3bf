"""Django's own test suite, from the sdist of the installed Django version.

    from tests.django_sdist import django_tests_dir
    tests = django_tests_dir()          # .../.django-src/django-5.2.19/tests

The sdist is fetched once with ``pip download --no-binary :all: --no-deps django==<version>``
into the gitignored ``.django-src/`` at the repository root, and only its ``tests/``
directory is extracted. Nothing of Django's test code is copied into this repository.
Safe to call from several processes at once (an exclusive file lock guards the fetch).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".django-src"


def django_tests_dir(version: str | None = None) -> Path:
    """Path of ``tests/`` of Django's sdist for ``version`` (default: the installed one)."""
    version = version or django.__version__
    target = CACHE_DIR / f"django-{version}"
    done = target / ".complete"
    if done.exists():
        return target / "tests"
    CACHE_DIR.mkdir(exist_ok=True)
    with open(CACHE_DIR / ".lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if not done.exists():
            _fetch(version, target)
            done.touch()
    return target / "tests"


def _fetch(version: str, target: Path) -> None:
    archive = CACHE_DIR / f"django-{version}.tar.gz"
    if not archive.exists():
        with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps"]
            cmd += ["--dest", tmp, f"django=={version}"]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                raise RuntimeError(
                    f"could not download Django {version}'s sdist (needed for Django's own test suite):\n"
                    f"{' '.join(cmd)}\n{result.stdout}{result.stderr}"
                )
            found = [p for p in Path(tmp).iterdir() if p.name.lower().endswith(".tar.gz")]
            if not found:
                raise RuntimeError(f"pip download of Django {version} produced no .tar.gz in {tmp}")
            shutil.move(str(found[0]), archive)
    prefix = f"{archive.name[: -len('.tar.gz')]}/tests/"
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
            if not members:
                raise RuntimeError(f"{archive} has no {prefix} directory")
            tar.extractall(tmp, members=members, filter="data")
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(Path(tmp) / prefix.split("/")[0]), target)
