"""Each pattern's page covers what a user looks for: its settings (every key named, linked to
the reference), failure behaviour and migration from the package people use today."""

from __future__ import annotations

import dataclasses
import re

import pytest

from django_redis_patterns import conf

from .conftest import DOCS

PAGES = {
    "cache.md": None,
    "sessions.md": "SESSIONS",
    "ratelimit.md": "RATELIMIT",
    "locks.md": "LOCKS",
    "leaderboard.md": "LEADERBOARD",
}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_pattern_page_has_settings_failure_and_migration(page: str) -> None:
    headings = re.findall(r"^## (.+)$", (DOCS / page).read_text(), flags=re.M)
    assert "Settings" in headings
    assert "Failure behaviour" in headings
    assert any(h.startswith("Migrating") for h in headings), headings


@pytest.mark.parametrize("page", sorted(p for p, s in PAGES.items() if s))
def test_pattern_page_names_every_key_of_its_section(page: str) -> None:
    text = (DOCS / page).read_text()
    settings = text[text.index("## Settings\n") :]
    settings = settings[: settings.find("\n## ", 1)]
    assert "reference/settings.md#" in settings
    section = PAGES[page]
    for field in dataclasses.fields(conf.section_class(section)):
        if field.name == "USING" and section == "SESSIONS":
            continue  # not used by the engine: it reads SESSION_CACHE_ALIAS (said on the page)
        assert f"`{field.name}`" in settings, f"{page}: {field.name}"
