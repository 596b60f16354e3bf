"""The client's IP address, safe against spoofed ``X-Forwarded-For``.

Without ``TRUSTED_PROXIES`` only ``REMOTE_ADDR`` counts: any client can write an
``X-Forwarded-For`` header, so believing it lets an attacker pick a fresh bucket per
request. With ``TRUSTED_PROXIES`` (CIDRs of your own proxies), and only when the peer is
one of them, ``X-Forwarded-For`` is walked right to left, skipping trusted hops; the
first untrusted address is the client (entries to its left were written by the client
and are ignored). The address is then masked (``IPV4_MASK``/``IPV6_MASK``) so one
IPv6 /64 — what a single subscriber usually gets — is one bucket.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from django.utils.module_loading import import_string

from .conf import get as settings
from .exceptions import RatelimitConfigError

logger = logging.getLogger("django_redis_patterns.ratelimit")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=32)
def networks(cidrs: tuple[str, ...], argument: str = "TRUSTED_PROXIES") -> tuple[Network, ...]:
    """Parse CIDRs (``"10.0.0.0/8"``, ``"::1"``); errors name the value and the setting."""
    parsed = []
    for cidr in cidrs:
        try:
            parsed.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError:
            raise RatelimitConfigError(f"{argument}: {cidr!r} is not an IP network (e.g. '10.0.0.0/8', '::1')")
    return tuple(parsed)


def _address(value: str) -> Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.9:51234"
        value = value.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _trusted(addr: Address, trusted: Iterable[Network]) -> bool:
    return any(addr.version == net.version and addr in net for net in trusted)


_warned = False


def _warn_untrusted_xff(remote: str) -> None:
    # Once per process: behind a proxy every client would otherwise share the proxy's bucket.
    global _warned
    _warned = True
    logger.warning(
        "rate limiter: a request from %s carries X-Forwarded-For but TRUSTED_PROXIES is empty, so the "
        "header is ignored and limits apply to %s. If that is your proxy, add its address to "
        'REDIS_PATTERNS["RATELIMIT"]["TRUSTED_PROXIES"].',
        remote,
        remote,
    )


def real_ip(request: Any) -> str:
    """The client address (unmasked), per ``IP_META_KEY`` / ``TRUSTED_PROXIES``."""
    conf = settings()
    meta_key = conf.IP_META_KEY
    if meta_key:
        if callable(meta_key):
            return str(meta_key(request))
        if "." in meta_key:
            return str(import_string(meta_key)(request))
        value = request.META.get(meta_key)
        if not value:
            # As django-ratelimit: an error, not one bucket shared by every such request.
            raise RatelimitConfigError(
                f"IP_META_KEY is {meta_key!r} but the request has no {meta_key} (is the proxy that sets it "
                "in front of every request?)"
            )
        return str(value)
    remote = request.META.get("REMOTE_ADDR") or ""
    if not conf.TRUSTED_PROXIES:
        if not _warned and "HTTP_X_FORWARDED_FOR" in request.META:
            _warn_untrusted_xff(remote)
        return _walk(remote, "", ())
    return _walk(remote, request.META.get("HTTP_X_FORWARDED_FOR", ""), tuple(conf.TRUSTED_PROXIES))


# Cached: parsing addresses costs more than the rest of a check's Python work, and a
# server sees the same few (remote, X-Forwarded-For) pairs over and over. Errors are not cached.
@functools.lru_cache(maxsize=4096)
def _walk(remote: str, xff: str, cidrs: tuple[str, ...]) -> str:
    trusted = networks(cidrs)
    peer = _address(remote)
    if not trusted:
        if peer is None:
            raise RatelimitConfigError(
                f"REMOTE_ADDR is {remote!r}, not an IP address (a unix-socket server?); set "
                'REDIS_PATTERNS["RATELIMIT"]["TRUSTED_PROXIES"] to your proxy\'s addresses, or IP_META_KEY'
            )
        return str(peer)
    # An empty peer is a unix socket: only a local proxy can be on the other end.
    if peer is not None and not _trusted(peer, trusted):
        return str(peer)
    hops = [h for part in xff.split(",") if (h := part.strip())]
    client = peer
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            break  # garbage from the client's side: stop at the last address a proxy vouched for
        client = addr
        if not _trusted(addr, trusted):
            break
    if client is None:
        raise RatelimitConfigError(
            "the request came through a unix socket without an X-Forwarded-For header; cannot tell the client IP"
        )
    return str(client)


def mask(address: str) -> str:
    """``address`` reduced to its ``IPV4_MASK``/``IPV6_MASK`` network, e.g. ``2001:db8:1:2::/64``."""
    conf = settings()
    return _mask(address, conf.IPV4_MASK, conf.IPV6_MASK)


@functools.lru_cache(maxsize=4096)
def _mask(address: str, v4: int, v6: int) -> str:
    addr = _address(address)
    if addr is None:
        return address  # IP_META_KEY may return anything; it is hashed before use anyway
    prefix = v4 if addr.version == 4 else v6
    if prefix == addr.max_prefixlen:
        return str(addr)
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def client_ip(request: Any) -> str:
    """The masked client address, the value of ``key="ip"``."""
    return mask(real_ip(request))
