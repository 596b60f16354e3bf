"""Fixtures for the leaderboard tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def redis_ready(topology: Any) -> Iterator[Any]:
    """An emptied standalone (or parametrized) topology with CACHES["default"] on it."""
    yield topology


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Headless system Chromium through Playwright (never ``playwright install``)."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    executable = os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifact() -> Any:
    """``artifact("name")`` -> path under test-artifacts/leaderboard/."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "test-artifacts" / "leaderboard"
    folder.mkdir(parents=True, exist_ok=True)
    return lambda name: str(folder / f"{name}.png")
