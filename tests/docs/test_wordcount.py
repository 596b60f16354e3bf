"""The documentation stays readable: docs/ totals at most 20,000 words, no page more than
4,000, the quickstart under 1,500, and the pages speak of the product only."""

from __future__ import annotations

import re

import pytest

from .conftest import DOCS, pages

TOTAL_LIMIT = 20_000
PAGE_LIMIT = 4_000


def words(text: str) -> int:
    return len(text.split())


def test_the_docs_total_at_most_20000_words() -> None:
    total = sum(words(page.read_text()) for page in pages())
    assert total <= TOTAL_LIMIT, f"docs/ has {total} words"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_each_page_at_most_4000_words(page) -> None:  # type: ignore[no-untyped-def]
    assert words(page.read_text()) <= PAGE_LIMIT


def test_the_quickstart_is_under_1500_words() -> None:
    assert words((DOCS / "quickstart.md").read_text()) < 1500


FORBIDDEN = [
    r"DESIGN\.md",
    r"\bthe issue\b",
    r"\bthe lead\b",
    r"\bsession of work\b",
    r"at the time of writing",
    r"\bfourth session\b",
]


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_pages_speak_of_the_product_only(page) -> None:  # type: ignore[no-untyped-def]
    text = page.read_text()
    found = [p for p in FORBIDDEN if re.search(p, text, flags=re.I)]
    assert found == []
