"""The Redis panel of django-debug-toolbar in a real browser, on the arcade.

A logged-in player plays a round; the toolbar on that response lists the request's Redis
commands by pattern (the rate-limit check, the session load, the board syncs) and the
rate-limit decision. The screenshot goes to test-artifacts/example/; with
``DRP_DOCS_SCREENSHOTS=1`` also to docs/img/debug-toolbar.png (the one the docs show).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from debug_toolbar.settings import PANELS_DEFAULTS

from tests.example.conftest import PASSWORD

pytestmark = pytest.mark.slow

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "debug-toolbar.png"


@pytest.fixture
def toolbar_site(transactional_db: Any, arcade_site: Any, settings: Any) -> Iterator[Any]:
    """The arcade with the toolbar as its settings turn it on in DEBUG, on a live server."""
    from pytest_django.live_server_helper import LiveServer

    settings.DEBUG = True
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.staticfiles", "debug_toolbar"]
    settings.MIDDLEWARE = ["debug_toolbar.middleware.DebugToolbarMiddleware", *settings.MIDDLEWARE]
    settings.INTERNAL_IPS = ["127.0.0.1"]
    settings.DEBUG_TOOLBAR_PANELS = [*PANELS_DEFAULTS, "django_redis_patterns.contrib.debug_toolbar.RedisPanel"]
    settings.DEBUG_TOOLBAR_CONFIG = {"IS_RUNNING_TESTS": False}
    settings.ROOT_URLCONF = "tests.example.toolbar_urls"
    server = LiveServer("127.0.0.1")
    server._live_server_modified_settings.enable()
    try:
        yield server
    finally:
        server._live_server_modified_settings.disable()
        server.stop()


def test_the_redis_panel_shows_the_requests_commands(
    toolbar_site: Any, browser: Any, artifacts: Any, make_player: Any
) -> None:
    base = toolbar_site.url
    make_player("ada")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{base}/play/")
    with page.expect_navigation():
        page.click("#play")  # a POST: a rate-limit check, the session, the round's board syncs

    page.wait_for_selector("#djDebugToolbar", state="visible")
    button = page.locator("#djdt-RedisPanel")
    assert "command" in button.inner_text()
    page.click("#djdt-RedisPanel a.RedisPanel")
    panel = page.locator("#RedisPanel")
    panel.locator("table.djdt-redis-commands").wait_for()
    commands = panel.locator("table.djdt-redis-commands").inner_text()
    assert "ratelimit.check" in commands and "EVALSHA" in commands
    assert "sessions.load" in commands
    assert "leaderboard.sync" in commands and "PIPELINE" in commands
    decisions = panel.locator("table.djdt-redis-decisions").inner_text()
    assert "arcade.play (gcra)" in decisions and "allowed, 9 of 10 left" in decisions
    page.screenshot(path=artifacts("redis-panel"))
    if os.environ.get("DRP_DOCS_SCREENSHOTS") == "1":
        page.screenshot(path=str(SCREENSHOT))
    # Each command's stack is one click away: a board sync was sent by the round the view recorded.
    row = panel.locator("tr[id^=redisMain_]", has_text="leaderboard.sync").first
    number = (row.get_attribute("id") or "").rsplit("_", 1)[1]
    row.locator("button.djToggleSwitch").click()
    stack = panel.locator(f"#redisDetails_{number} pre.djdt-stack").inner_text()
    assert "arcade/game.py in record_round" in stack and "arcade/views.py in play" in stack
