"""Shared helpers for the documentation tests: the pages and their fenced blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


@dataclass
class Block:
    lang: str
    body: str
    start: int  # offset of the opening fence in the page
    end: int  # offset just after the closing fence


def blocks(text: str) -> list[Block]:
    """Every fenced code block of a Markdown page, in order."""
    return [Block(m.group("lang"), m.group("body"), m.start(), m.end()) for m in FENCE.finditer(text)]


def pages() -> list[Path]:
    """Every Markdown page of the site."""
    return sorted(DOCS.rglob("*.md"))
