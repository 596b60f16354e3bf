"""Source distributions of the packages whose own test suites we run against ours.

    from tests.sdist import sdist_tree
    root = sdist_tree("django", "tests")            # .../.sdist/django-5.2.19 (only tests/)
    root = sdist_tree("django-redis")               # the whole sdist, at the installed version

Each sdist is fetched once with ``pip download --no-binary :all: --no-deps <name>==<version>``
(the version installed here, which the committed lock pins) into the gitignored ``.sdist/``
at the repository root, and only the requested top-level directories are extracted. Nothing
of a peer's code is copied into this repository. Safe to call from several processes at once
(an exclusive file lock guards each fetch).
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".sdist"


def sdist_tree(project: str, *subdirs: str, version: str | None = None) -> Path:
    """Root of ``project``'s extracted sdist, holding ``subdirs`` (default: everything).

    ``version`` defaults to the installed distribution's version."""
    version = version or importlib.metadata.version(project)
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", f"{project}-{version}-{'+'.join(subdirs) or 'all'}")
    target = CACHE_DIR / slug
    done = target / ".complete"
    if done.exists():
        return target
    CACHE_DIR.mkdir(exist_ok=True)
    with open(CACHE_DIR / ".lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if not done.exists():
            _extract(_download(project, version), subdirs, target)
            done.touch()
    return target


def _download(project: str, version: str) -> Path:
    stem = re.sub(r"[-_.]+", "_", project).lower()
    for existing in CACHE_DIR.glob("*.tar.gz"):
        if existing.name.lower().replace("-", "_").startswith(f"{stem}_{version}".lower().replace("-", "_")):
            return existing
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps"]
        cmd += ["--dest", tmp, f"{project}=={version}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        found = [p for p in Path(tmp).iterdir() if p.name.lower().endswith(".tar.gz")]
        if not found:
            raise RuntimeError(
                f"could not download the sdist of {project} {version} (needed to run its own tests):\n"
                f"{' '.join(cmd)}\n{result.stdout}{result.stderr}"
            )
        archive = CACHE_DIR / found[0].name
        shutil.move(str(found[0]), archive)
    return archive


def _extract(archive: Path, subdirs: tuple[str, ...], target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            top = members[0].name.split("/")[0]
            if subdirs:
                prefixes = tuple(f"{top}/{d.strip('/')}/" for d in subdirs)
                members = [m for m in members if m.name.startswith(prefixes)]
                if not members:
                    raise RuntimeError(f"{archive} has none of {', '.join(subdirs)}")
            tar.extractall(tmp, members=members, filter="data")
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(Path(tmp) / top), target)
