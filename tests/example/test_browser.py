"""The example site end to end in a real browser (Playwright driving the system's Chromium).

Screenshots of every step go to test-artifacts/example/.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from arcade.models import Player, Round

from tests.example.conftest import PASSWORD
from tests.topologies import all_topologies

pytestmark = pytest.mark.slow


def sign_up(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/signup/")
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("#signup-form button[type=submit]")
    page.wait_for_url(f"{base}/play/")


def log_in(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.postgres
@all_topologies
def test_a_players_evening(
    site_server: Any, browser: Any, artifacts: Any, make_player: Any, django_user_model: Any
) -> None:
    base = site_server.url
    for i, score in enumerate([9000, 7000, 5000, 3000, 1000]):
        make_player(f"rival{i}", score=score)

    laptop = browser.new_context(user_agent="Mozilla/5.0 (X11; Linux) ArcadeLaptop/1.0")
    page = laptop.new_page()
    sign_up(page, base, "ada")
    page.screenshot(path=artifacts("1-signed-up"))
    assert page.inner_text("#whoami") == "ada"

    # Play until the arcade says "slow down": 10 rounds a minute (GCRA), then the 429 page.
    started = time.monotonic()
    accepted = 0
    for _ in range(30):
        with page.expect_navigation() as navigation:
            page.click("#play")
        response = navigation.value
        if response.status == 429:
            break
        assert response.status == 200
        accepted += 1
    elapsed = time.monotonic() - started
    # GCRA at 10/min: a burst of 10, then one more every 6 s of elapsed time.
    assert 10 <= accepted <= 10 + int(elapsed / 6) + 1
    assert Round.objects.filter(player__user__username="ada").count() == accepted
    assert response.status == 429
    assert int(response.headers["retry-after"]) >= 1
    assert page.locator("#ratelimited").is_visible()
    page.screenshot(path=artifacts("2-rate-limited"))

    # The leaderboard shows ada's rank among the rivals.
    page.goto(f"{base}/leaderboard/")
    ada_score = Player.objects.get(user__username="ada").score
    expected_rank = 1 + sum(1 for s in [9000, 7000, 5000, 3000, 1000] if s > ada_score)
    assert f"#{expected_rank}" in page.inner_text("#my-rank")
    assert page.locator("#around tr.me").inner_text().split()[1] == "ada"
    page.screenshot(path=artifacts("3-leaderboard"), full_page=True)

    # A second device logs in; from the laptop, "log out everywhere else" ends its session.
    phone = browser.new_context(user_agent="Mozilla/5.0 (iPhone) ArcadePhone/1.0")
    phone_page = phone.new_page()
    log_in(phone_page, base, "ada")
    phone_page.goto(f"{base}/play/")
    assert phone_page.inner_text("#whoami") == "ada"
    page.goto(f"{base}/devices/")
    assert page.locator("tr.device").count() == 2
    # Named by the user-agent parser, not shown as the raw string
    names = page.locator("#devices .devname").all_inner_texts()
    assert "Safari on iPhone" in names and not any("Mozilla/5.0" in n for n in names), names
    page.screenshot(path=artifacts("4-devices"))
    page.click("#logout-others")
    page.wait_for_load_state()
    assert page.locator("tr.device").count() == 1
    phone_page.goto(f"{base}/play/")
    assert "/login/" in phone_page.url
    phone_page.screenshot(path=artifacts("5-phone-logged-out"))
    page.goto(f"{base}/play/")
    assert page.inner_text("#whoami") == "ada"

    # The admin's leaderboard page lists the same ranking.
    django_user_model.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    admin = browser.new_context()
    admin_page = admin.new_page()
    admin_page.goto(f"{base}/admin/login/")
    admin_page.fill("#id_username", "boss")
    admin_page.fill("#id_password", PASSWORD)
    admin_page.click("input[type=submit]")
    admin_page.goto(f"{base}/admin/arcade/player/leaderboard/")
    text = admin_page.inner_text("#content")
    assert text.index("rival0") < text.index("rival1")
    assert "ada" in text
    admin_page.screenshot(path=artifacts("6-admin-leaderboard"), full_page=True)
    for context in (laptop, phone, admin):
        context.close()
