"""The README's snippets work when pasted: every Python block compiles, and the settings
blocks of each section, appended to a project fresh from ``django-admin startproject``,
give a project that passes ``manage.py check`` (with ``REDIS_URL`` unset, as on a new machine)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def python_blocks() -> list[tuple[str, str]]:
    """(section heading, code) of every ```python block, in order."""
    section = ""
    blocks: list[tuple[str, str]] = []
    for match in re.finditer(r"^## ([^\n]+)$|^```python\n(.*?)^```$", README.read_text(), flags=re.M | re.S):
        if match.group(1):
            section = match.group(1).strip()
        else:
            blocks.append((section, match.group(2)))
    return blocks


def settings_sections() -> dict[str, list[str]]:
    """Section -> its settings blocks (those that start with a ``# settings.py`` comment)."""
    found: dict[str, list[str]] = {}
    for section, code in python_blocks():
        if code.startswith("# settings.py"):
            found.setdefault(section, []).append(code)
    return found


def test_readme_has_settings_snippets() -> None:
    sections = settings_sections()
    assert sorted(sections) == ["Install and configure", "The 5-minute tour"]
    assert len(sections["The 5-minute tour"]) == 2


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_every_python_block_compiles(index: int) -> None:
    section, code = python_blocks()[index]
    ast.parse(code, filename=f"README.md ({section}, block {index})")


@pytest.mark.parametrize("section", sorted(settings_sections()))
def test_settings_pasted_into_a_new_project_pass_check(tmp_path: Path, section: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["PYTHONPATH"] = str(REPO)
    run = {"env": env, "capture_output": True, "text": True, "timeout": 120}
    made = subprocess.run([sys.executable, "-m", "django", "startproject", "site_", str(tmp_path)], **run)  # type: ignore[call-overload]
    assert made.returncode == 0, made.stderr
    settings = tmp_path / "site_" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + "\n".join(settings_sections()[section]))
    checked = subprocess.run([sys.executable, "manage.py", "check"], cwd=tmp_path, **run)  # type: ignore[call-overload]
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues" in checked.stdout


def test_redis_url_comes_from_the_environment_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0"
    monkeypatch.setenv("REDIS_URL", url)
    namespace: dict[str, object] = {
        "INSTALLED_APPS": [],
        "MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware"],
    }
    for code in settings_sections()["The 5-minute tour"]:
        exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["CACHES"] == {"default": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": url}}
