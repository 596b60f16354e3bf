"""The admin sessions page and the "your devices" page in a real browser (headless Chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from django_redis_patterns.sessions import user_sessions

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "sessions"


@pytest.fixture
def fresh_live_server(settings: Any, transactional_db: Any) -> Iterator[Any]:
    """A live server started *after* this test's settings (pytest-django's is session-scoped, and
    its handler would keep the middleware and session engine of the settings it started with)."""
    from django.db import connections
    from django.test.testcases import LiveServerThread, _StaticFilesHandler

    shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    for conn in shared.values():
        conn.inc_thread_sharing()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    thread = LiveServerThread("localhost", _StaticFilesHandler, connections_override=shared, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    thread.url = f"http://localhost:{thread.port}"  # type: ignore[attr-defined]
    yield thread
    thread.terminate()
    for conn in shared.values():
        conn.dec_thread_sharing()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_admin_revokes_a_session_in_the_browser(
    topology: Any, fresh_live_server: Any, browser: Any, django_user_model: Any, sessions_admin: Any
) -> None:
    django_user_model.objects.create_superuser("root", password="root-pw")
    alice = django_user_model.objects.create_user("alice", password="pw")
    phone = Client(HTTP_USER_AGENT="Alice's phone", REMOTE_ADDR="10.9.9.9")
    assert phone.post("/login/", {"username": "alice"}).status_code == 200

    page = browser.new_page()
    page.goto(f"{fresh_live_server.url}/admin/login/?next=/admin/auth/user/{alice.pk}/change/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "root-pw")
    page.click("input[type=submit]")
    page.click("a.redis-sessions-link")
    page.wait_for_selector("#redis-sessions")
    rows = page.locator("#redis-sessions tbody tr")
    assert rows.count() == 1
    assert "Alice's phone" in rows.first.inner_text() and "10.9.9.9" in rows.first.inner_text()
    _shot(page, "admin-user-sessions")
    page.click("#redis-sessions input[type=submit][value=Revoke]")
    page.wait_for_selector("#redis-sessions-empty")
    _shot(page, "admin-user-sessions-revoked")
    assert phone.get("/whoami/").json()["authenticated"] is False
    assert user_sessions(alice) == []


@pytest.mark.django_db(transaction=True)
def test_your_devices_page_in_the_browser(
    topology: Any, fresh_live_server: Any, browser: Any, django_user_model: Any
) -> None:
    alice = django_user_model.objects.create_user("alice", password="pw")
    laptop = Client(HTTP_USER_AGENT="Alice's laptop")
    assert laptop.post("/login/", {"username": "alice"}).status_code == 200

    context = browser.new_context(user_agent="Alice's browser")
    page = context.new_page()
    assert page.request.post(f"{fresh_live_server.url}/login/", form={"username": "alice"}).ok
    page.goto(f"{fresh_live_server.url}/devices/")
    devices = page.locator("tr.device")
    assert devices.count() == 2
    assert "this device" in page.locator("tr.device.current").inner_text()
    _shot(page, "your-devices")
    page.locator("tr.device:not(.current) button").click()
    page.wait_for_load_state()
    assert page.locator("tr.device").count() == 1
    _shot(page, "your-devices-after-logout")
    assert laptop.get("/whoami/").json()["authenticated"] is False
    assert [s.user_agent for s in user_sessions(alice)] == ["Alice's browser"]
    context.close()
