"""``manage.py check --deploy`` checks (redis_patterns.W001, W012, W013, W014).

* W001: a Redis alias reaches a non-loopback server over plain TCP without a password:
  anyone on the network can read and write the cache, sessions and locks.
* W014: the alias holding the sessions or the cached users (``SESSION_CACHE_ALIAS``) reaches a
  non-loopback server without a password/ACL user, or without TLS. Values there are signed, so
  writing to Redis logs nobody in, but whoever connects can still read every session's data,
  end sessions, and fill the server; without TLS the password and the sessions cross the network
  in clear. (An alias W001 already reports is not reported again.)
* W012 / W013: Django warns about SESSION_COOKIE_SECURE / SESSION_COOKIE_HTTPONLY
  (security.W010-W015) only when ``django.contrib.sessions`` is installed or its own
  middleware is listed. A project on this package's session engine and middleware may have
  neither, and would otherwise get no warning at all.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Warning

from . import installed
from .client import connections
from .exceptions import ImproperlyConfigured

DJANGO_SESSIONS_APP = "django.contrib.sessions"
DJANGO_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _exposed_hosts(spec: connections.ConnectionSpec) -> list[str]:
    """Non-loopback hosts the spec reaches over plain TCP with no password."""
    if spec.fake or spec.ssl or spec.password:
        return []
    if spec.topology != "standalone":
        hosts = [node.rpartition(":")[0] for node in spec.nodes]
    else:
        hosts = []
        for url in spec.nodes:
            parts = urlsplit(url)
            if parts.scheme.lower() != "redis" or parts.password:
                continue  # rediss:// is encrypted, unix:// never leaves the machine
            hosts.append(parts.hostname or "localhost")
    return [h for h in hosts if not _is_loopback(h)]


def _spec(config: dict[str, Any]) -> connections.ConnectionSpec | None:
    """The connection spec of a Redis alias; None for other backends or unparsable ones."""
    backend = config.get("BACKEND", "")
    if connections.dialect_of(backend) is None:
        return None
    try:
        return connections.parse(
            config.get("LOCATION", ""),
            config.get("OPTIONS") or {},
            dialect=connections.dialect_of(backend) or "upper",
        )
    except ImproperlyConfigured:
        return None  # reported by redis_patterns.E003/E007/E008


def check_plain_redis() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for alias, config in (getattr(settings, "CACHES", None) or {}).items():
        spec = _spec(config)
        if spec is None:
            continue
        hosts = _exposed_hosts(spec)
        if hosts:
            messages.append(
                Warning(
                    f"Cache alias {alias!r} connects to {', '.join(sorted(set(hosts)))} over plain redis:// "
                    "without a password: anyone who can reach that port can read and change its data.",
                    hint="Use rediss:// (TLS), or set a password (redis://:PASSWORD@host:6379/0 or "
                    "OPTIONS['PASSWORD']; with ACLs also a username).",
                    id="redis_patterns.W001",
                )
            )
    return messages


def _remote_gaps(spec: connections.ConnectionSpec) -> list[str]:
    """What the connection lacks (credentials, TLS) when it leaves the machine; [] otherwise."""
    if spec.fake:
        return []
    if spec.topology != "standalone":
        hosts = [node.rpartition(":")[0] for node in spec.nodes]
        credentials, tls = bool(spec.password or spec.username), spec.ssl
    else:
        urls = [urlsplit(url) for url in spec.nodes]
        hosts = [u.hostname or "localhost" for u in urls if u.scheme.lower() != "unix"]
        credentials = bool(spec.password or spec.username) or all(u.password or u.username for u in urls)
        tls = spec.ssl or all(u.scheme.lower() in ("rediss", "unix") for u in urls)
    if all(_is_loopback(h) for h in hosts):
        return []  # never leaves the machine
    gaps = [] if credentials else ["no password or ACL user"]
    return gaps + ([] if tls else ["no TLS"])


def _holds_cached_users(backend: Any) -> bool:
    # By name, not by import: importing the auth backends needs django.contrib.auth installed.
    return any(
        f"{c.__module__}.{c.__qualname__}" == f"{installed.CORE_APP}.sessions.auth.CachedUserMixin"
        for c in getattr(backend, "__mro__", ())
    )


def check_session_redis() -> list[CheckMessage]:
    """W014: the Redis alias holding sessions or cached users lacks a password/ACL user or TLS."""
    wanted = f"{installed.CORE_APP}.sessions"
    holds = []
    for where, obj in installed.configured():
        if where == "SESSION_ENGINE" and wanted in installed.apps_of(obj) and "sessions" not in holds:
            holds.append("sessions")
        elif where.startswith("AUTHENTICATION_BACKENDS") and _holds_cached_users(obj) and "cached users" not in holds:
            holds.append("cached users")
    alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
    config = (getattr(settings, "CACHES", None) or {}).get(alias)
    spec = _spec(config) if holds and isinstance(config, dict) else None
    if spec is None or _exposed_hosts(spec):  # not ours to check, or W001 says it already
        return []
    gaps = _remote_gaps(spec)
    if not gaps:
        return []
    return [
        Warning(
            f"Cache alias {alias!r} holds the {' and '.join(holds)} and reaches Redis with {' and '.join(gaps)}: "
            "whoever can connect can read every session's data and end sessions"
            + ("; the password and the sessions cross the network in clear." if "no TLS" in gaps else "."),
            hint="Use rediss:// (TLS) and a password or an ACL user (redis://USER:PASSWORD@host or "
            "OPTIONS['USERNAME'] / OPTIONS['PASSWORD']).",
            id="redis_patterns.W014",
        )
    ]


def _our_sessions_in_use() -> bool:
    """Our session engine or middleware (or a subclass of either) is configured."""
    wanted = f"{installed.CORE_APP}.sessions"
    return any(
        wanted in installed.apps_of(obj)
        for where, obj in installed.configured()
        if where == "SESSION_ENGINE" or where.startswith("MIDDLEWARE")
    )


def check_session_cookies() -> list[CheckMessage]:
    """Django's session cookie warnings, when Django itself stays silent about them."""
    installed: Any = getattr(settings, "INSTALLED_APPS", [])
    middleware: Any = getattr(settings, "MIDDLEWARE", None) or []
    if DJANGO_SESSIONS_APP in installed or DJANGO_SESSION_MIDDLEWARE in middleware or not _our_sessions_in_use():
        return []  # Django's own security.W010-W015 cover it, or no session of ours is in play
    messages: list[CheckMessage] = []
    if getattr(settings, "SESSION_COOKIE_SECURE", False) is not True:
        messages.append(
            Warning(
                "SESSION_COOKIE_SECURE is not set to True. Using a secure-only session cookie makes it more "
                "difficult for network traffic sniffers to hijack user sessions.",
                hint="Django does not warn about it here, because django.contrib.sessions is not installed.",
                id="redis_patterns.W012",
            )
        )
    if getattr(settings, "SESSION_COOKIE_HTTPONLY", True) is not True:
        messages.append(
            Warning(
                "SESSION_COOKIE_HTTPONLY is not set to True. Using an HttpOnly session cookie makes it more "
                "difficult for cross-site scripting attacks to hijack user sessions.",
                hint="Django does not warn about it here, because django.contrib.sessions is not installed.",
                id="redis_patterns.W013",
            )
        )
    return messages
