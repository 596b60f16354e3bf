"""Client IP: spoofed X-Forwarded-For is ignored unless the peer is a trusted proxy; the
header is walked right to left; IPv6 addresses are grouped by /64 (settings)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from django_redis_patterns.ratelimit import RatelimitConfigError, get_usage
from django_redis_patterns.ratelimit.clientip import client_ip, real_ip
from tests.ratelimit.conftest import ratelimit_settings


def request(rf: RequestFactory, remote: str, xff: str | None = None) -> Any:
    meta = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return rf.get("/", **meta)


def test_spoofed_xff_is_ignored_without_trusted_proxies(topology: Any, rf: RequestFactory) -> None:
    assert client_ip(request(rf, "203.0.113.5", "1.2.3.4")) == "203.0.113.5"
    # an attacker rotating X-Forwarded-For still lands in one bucket
    allowed = [
        get_usage(request(rf, "203.0.113.5", f"10.0.0.{i}"), group="xff", key="ip", rate="3/d", increment=True).allowed
        for i in range(10)
    ]
    assert allowed == [True] * 3 + [False] * 7


def test_trusted_proxy_chain_walked_right_to_left(rf: RequestFactory, settings: Any) -> None:
    ratelimit_settings(settings, TRUSTED_PROXIES=["10.0.0.0/8", "2001:db8:ffff::/48"])
    # client-written junk on the left, then the real client, then our proxies
    r = request(rf, "10.0.0.2", "6.6.6.6, 198.51.100.20, 10.0.0.1")
    assert real_ip(r) == "198.51.100.20"
    # a peer that is not a trusted proxy: its header is not believed
    assert real_ip(request(rf, "198.51.100.99", "7.7.7.7")) == "198.51.100.99"
    # IPv6 proxies, ports and brackets
    assert real_ip(request(rf, "2001:db8:ffff::1", "[2001:db8:1:2::9]:443")) == "2001:db8:1:2::9"
    assert real_ip(request(rf, "10.0.0.2", "203.0.113.7:5123")) == "203.0.113.7"
    # garbage stops the walk at the last address a proxy vouched for
    assert real_ip(request(rf, "10.0.0.2", "198.51.100.1, not-an-ip, 10.0.0.3")) == "10.0.0.3"
    # all hops trusted: the leftmost one is the best we know
    assert real_ip(request(rf, "10.0.0.2", "10.9.9.9")) == "10.9.9.9"
    # no header from a trusted proxy: the proxy itself
    assert real_ip(request(rf, "10.0.0.2")) == "10.0.0.2"


def test_unix_socket_peer_needs_trusted_proxies(rf: RequestFactory, settings: Any) -> None:
    with pytest.raises(RatelimitConfigError, match="TRUSTED_PROXIES"):
        real_ip(request(rf, ""))
    ratelimit_settings(settings, TRUSTED_PROXIES=["127.0.0.1/32"])
    assert real_ip(request(rf, "", "198.51.100.4")) == "198.51.100.4"


def test_ipv6_masking(topology: Any, rf: RequestFactory, settings: Any) -> None:
    assert client_ip(request(rf, "2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
    # two addresses of one /64 share a bucket; another /64 does not
    hits = [
        get_usage(request(rf, ip), group="v6", key="ip", rate="1/d", increment=True).allowed
        for ip in ("2001:db8:1:2::1", "2001:db8:1:2:ffff::7", "2001:db8:1:3::1")
    ]
    assert hits == [True, False, True]
    ratelimit_settings(settings, IPV6_MASK=128, IPV4_MASK=24)
    assert client_ip(request(rf, "2001:db8:1:2:aaaa::1")) == "2001:db8:1:2:aaaa::1"
    assert client_ip(request(rf, "203.0.113.77")) == "203.0.113.0/24"
    assert client_ip(request(rf, "::ffff:203.0.113.77")) == "203.0.113.0/24"  # IPv4-mapped


def test_ip_meta_key(rf: RequestFactory, settings: Any) -> None:
    ratelimit_settings(settings, IP_META_KEY="HTTP_CF_CONNECTING_IP")
    r = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_CF_CONNECTING_IP="198.51.100.3")
    assert client_ip(r) == "198.51.100.3"


def test_xff_without_trusted_proxies_warns_once(rf: RequestFactory, caplog: Any, monkeypatch: Any) -> None:
    from django_redis_patterns.ratelimit import clientip

    monkeypatch.setattr(clientip, "_warned", False)
    caplog.set_level("WARNING", logger="django_redis_patterns.ratelimit")
    for i in range(3):
        assert real_ip(request(rf, "10.0.0.2", f"198.51.100.{i}")) == "10.0.0.2"
    warnings = [r for r in caplog.records if "TRUSTED_PROXIES" in r.getMessage()]
    assert len(warnings) == 1 and "10.0.0.2" in warnings[0].getMessage()
