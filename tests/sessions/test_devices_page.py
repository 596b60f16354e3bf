"""The packaged "your devices" page names devices as people do, marks this one, and is styled."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.test import Client

from django_redis_patterns.sessions import user_sessions
from django_redis_patterns.sessions.devices import describe

pytestmark = pytest.mark.django_db

# Real User-Agent strings, as current browsers send them.
FIREFOX_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
EDGE_WINDOWS = CHROME_WINDOWS + " Edg/126.0.0.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
CHROME_PIXEL = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.122 Mobile Safari/537.36"
)
# Chrome's reduced User-Agent: the model is replaced by "K".
CHROME_ANDROID_REDUCED = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    "user_agent, label, detail, kind",
    [
        (FIREFOX_UBUNTU, "Firefox on Ubuntu", "Firefox 128 · Ubuntu", "computer"),
        (SAFARI_IPHONE, "Safari on iPhone", "Safari 17 · iOS 17", "phone"),
        (SAFARI_IPAD, "Safari on iPad", "Safari 17 · iOS 17", "tablet"),
        (CHROME_WINDOWS, "Chrome on Windows", "Chrome 126 · Windows 10", "computer"),
        (EDGE_WINDOWS, "Edge on Windows", "Edge 126 · Windows 10", "computer"),
        (SAFARI_MAC, "Safari on macOS", "Safari 17 · macOS 10", "computer"),
        (CHROME_PIXEL, "Chrome on Pixel 8", "Chrome 126 · Android 14", "phone"),
        (CHROME_ANDROID_REDUCED, "Chrome on Android", "Chrome 126 · Android 10", "phone"),
        ("curl/8.5.0", "curl", "curl 8", ""),
        ("Alice's laptop", "Alice's laptop", "", ""),  # unparseable: shown as sent
        ("", "", "", ""),
    ],
)
def test_user_agents_are_named_as_people_name_devices(user_agent: str, label: str, detail: str, kind: str) -> None:
    device = describe(user_agent)
    assert (device.label, device.detail, device.kind) == (label, detail, kind)


def test_a_long_unparseable_user_agent_is_shortened() -> None:
    device = describe("x" * 300)
    assert len(device.label) == 60 and device.label.endswith("…")
    assert device.user_agent == "x" * 300


def _login(user_agent: str) -> Client:
    client = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR="203.0.113.7")
    assert client.post("/login/", {"username": "alice"}).status_code == 200
    return client


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="device[^"]*">.*?</tr>', html, flags=re.S)


def _text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _name(row: str) -> str:
    return unescape(re.search(r'class="device-name"[^>]*>([^<]*)<', row).group(1))  # type: ignore[union-attr]


def _detail(row: str) -> str:
    return unescape(re.search(r'class="device-detail">([^<]*)<', row).group(1))  # type: ignore[union-attr]


def test_devices_page_names_devices_marks_this_one_and_offers_revoke(topology: Any, django_user_model: Any) -> None:
    alice = django_user_model.objects.create_user("alice", password="pw")
    laptop = _login(FIREFOX_UBUNTU)
    phone = _login(SAFARI_IPHONE)
    _login(CHROME_WINDOWS)
    response = laptop.get("/devices/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<style>" in html and "redis-sessions-devices" in html  # styled without any project CSS
    rows = _rows(html)
    assert len(rows) == 3
    current = [row for row in rows if 'class="device current' in row]
    assert len(current) == 1
    assert _name(current[0]) == "Firefox on Ubuntu" and "this device" in _text(current[0])
    assert "redis_sessions/revoke" not in current[0] and "/devices/revoke/" not in current[0]  # no button for itself
    others = [row for row in rows if row not in current]
    assert sorted(_name(row) for row in others) == ["Chrome on Windows", "Safari on iPhone"]
    assert sorted(_detail(row) for row in others) == ["Chrome 126 · Windows 10", "Safari 17 · iOS 17"]
    assert all('action="/devices/revoke/"' in row and "Log out" in _text(row) for row in others)
    # The raw string is kept as a tooltip, never as the visible name.
    assert f'title="{SAFARI_IPHONE}"' in html
    assert SAFARI_IPHONE not in _text(html)

    # Revoking the phone through the page's own form logs that phone out.
    phone_row = next(row for row in others if _name(row) == "Safari on iPhone")
    phone_ref = re.search(r'name="session" value="([^"]+)"', phone_row).group(1)  # type: ignore[union-attr]
    assert laptop.post("/devices/revoke/", {"session": phone_ref}).status_code == 302
    assert phone.get("/whoami/").json()["authenticated"] is False
    assert sorted(s.device.label for s in user_sessions(alice)) == ["Chrome on Windows", "Firefox on Ubuntu"]
