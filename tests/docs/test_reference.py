"""The settings and system-checks references match the code: nothing missing, nothing stale.

Settings: every field of ``conf.CoreSettings`` and of each section's dataclass is a row of its
table in docs/reference/settings.md with its default, and every row is a field; every cache
OPTION the backend or the connection layer reads, and every django-redis option it accepts,
is listed. Checks: the ids in docs/reference/checks.md are exactly the ids in the code.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from django_redis_patterns import conf
from django_redis_patterns.cache import backend, checks
from django_redis_patterns.client import connections

from .conftest import DOCS, REPO

SETTINGS = DOCS / "reference" / "settings.md"
CHECKS = DOCS / "reference" / "checks.md"


def table(heading: str) -> dict[str, list[str]]:
    """First-column name -> the row's cells, of the table under ``## heading``."""
    text = SETTINGS.read_text()
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    rows: dict[str, list[str]] = {}
    for line in text[start : end if end > 0 else None].splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            for name in re.findall(r"`([A-Z0-9_*]+)`", cells[0]):
                rows[name] = cells
    return rows


@pytest.mark.parametrize("section", ["", *conf.SECTIONS])
def test_every_setting_is_documented_with_its_default(section: str) -> None:
    cls = conf.CoreSettings if not section else conf.section_class(section)
    rows = table("`REDIS_PATTERNS`" if not section else f'`REDIS_PATTERNS["{section}"]`')
    fields = {f.name: f for f in dataclasses.fields(cls)}
    documented = set(rows) - (set(conf.SECTIONS) if not section else set())
    assert documented == set(fields), f"missing: {set(fields) - documented}; stale: {documented - set(fields)}"
    for name, field in fields.items():
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        assert rows[name][2] == f"`{default!r}`".replace("'", '"'), f"{name}: {rows[name][2]} vs {default!r}"


def test_every_cache_option_is_documented() -> None:
    rows = table("Cache `OPTIONS`")
    read = backend.BACKEND_OPTIONS | backend.CONNECTION_OPTIONS | {connections.OPTION_COOLDOWN, "SSL_*"}
    assert set(rows) == set(read), f"missing: {read - set(rows)}; stale: {set(rows) - read}"
    text = SETTINGS.read_text()
    for name in checks._ALSO_ACCEPTED:
        assert f"`{name}`" in text


def code_check_ids() -> set[str]:
    ids: set[str] = set()
    for path in (REPO / "django_redis_patterns").rglob("*.py"):
        ids |= set(re.findall(r"redis_patterns\.([EWI]\d{3})", path.read_text()))
    return ids


def test_the_checks_reference_lists_exactly_the_ids_in_the_code() -> None:
    documented = re.findall(r"^\| `redis_patterns\.([EWI]\d{3})` \|", CHECKS.read_text(), flags=re.M)
    assert len(documented) == len(set(documented)), "an id is listed twice"
    assert set(documented) == code_check_ids()


def test_every_check_row_says_what_fires_it_and_the_fix() -> None:
    for line in CHECKS.read_text().splitlines():
        if line.startswith("| `redis_patterns."):
            cells = [c.strip() for c in line.split("|")[1:-1]]
            assert len(cells) == 3 and all(cells), line
