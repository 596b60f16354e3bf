"""Every snippet of docs/quickstart.md works as pasted, in the order the page gives them.

The test does what the page tells a reader to do, in a temporary directory, block by block:
```bash lines run as they are (``pip install`` excepted: the package is installed; and
``django-admin`` is ``python -m django``); for each ```python block, the file its first line
names is written (``# <path>``), or appended to (``(add at the end)``, then ``manage.py
check`` must be clean), and ``# python manage.py shell`` blocks run through ``manage.py
shell -c``. Where a
```text block follows a shell block, or a ```console block shows ``$ python manage.py ...``,
the printed output must be exactly what the page shows. Redis is a private server of the
test run (``REDIS_URL``), never 127.0.0.1:6379.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django_redis_patterns.testing import servers

from .conftest import DOCS, REPO, Block, blocks

PAGE = DOCS / "quickstart.md"
SHELL = "# python manage.py shell"


def steps() -> list[tuple[Block, str | None]]:
    """(block, the output the page shows after it or None) for every python/console/bash block."""
    text = PAGE.read_text()
    found = blocks(text)
    result: list[tuple[Block, str | None]] = []
    for i, block in enumerate(found):
        if block.lang not in ("python", "console", "bash"):
            continue
        expected = None
        following = found[i + 1] if i + 1 < len(found) else None
        directly_after = following is not None and not text[block.end : following.start].strip()
        if block.lang == "python" and following is not None and following.lang == "text" and directly_after:
            expected = following.body
        result.append((block, expected))
    return result


def test_the_page_has_a_snippet_per_pattern_and_is_short() -> None:
    text = PAGE.read_text()
    for heading in (
        "## Install",
        "## Settings",
        "## Cache",
        "## Sessions",
        "## Rate limiting",
        "## Locks",
        "## Leaderboards",
    ):
        assert heading in text
    assert len(text.split()) < 1500
    for block, _ in steps():
        if block.lang == "python":
            first = block.body.splitlines()[0]
            assert first.startswith("# "), f"a python block must say where it goes: {first!r}"


def test_every_snippet_runs_as_pasted(tmp_path: Path, redis_factory: Callable[..., servers.ServerGroup]) -> None:
    server = redis_factory("standalone")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(REDIS_URL=server.url, PYTHONPATH=str(REPO))
    run: dict[str, Any] = {"cwd": tmp_path, "env": env, "capture_output": True, "text": True, "timeout": 180}

    def python(*args: str) -> str:
        done = subprocess.run([sys.executable, *args], **run)
        assert done.returncode == 0, f"{' '.join(args[:3])}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    ran = 0
    for block, expected in steps():
        if block.lang == "bash":
            for line in block.body.splitlines():
                words = line.split("#")[0].split()
                if words[:2] == ["pip", "install"]:
                    continue
                if words[0] == "django-admin":
                    python("-m", "django", *words[1:])
                else:
                    assert words[:2] == ["python", "manage.py"], line
                    python(*words[1:])
            continue
        if block.lang == "console":
            lines = block.body.splitlines()
            command, shown = lines[0], "\n".join(lines[1:]) + "\n"
            assert command.startswith("$ python manage.py "), command
            assert python(*command[2:].split()[1:]) == shown
            ran += 1
            continue
        first, _, code = block.body.partition("\n")
        if first == SHELL:
            out = python("manage.py", "shell", "-v", "0", "-c", code)  # -v 0: no "objects imported" line
            if expected is not None:
                assert out == expected, f"the page shows:\n{expected}\nthe snippet printed:\n{out}"
            ran += 1
            continue
        target = first[2:].removesuffix(" (add at the end)")
        path = tmp_path / target
        path.parent.mkdir(parents=True, exist_ok=True)
        for package in path.relative_to(tmp_path).parents:
            if str(package) not in (".", "mysite", "games") and not (tmp_path / package / "__init__.py").exists():
                (tmp_path / package / "__init__.py").write_text("")
        if first.endswith("(add at the end)"):
            path.write_text(path.read_text() + "\n" + block.body)
            assert "System check identified no issues" in python("manage.py", "check")
        else:
            path.write_text(block.body)
    assert ran == 6  # cache, sessions, rate limiting, locks, close_season, leaderboards
