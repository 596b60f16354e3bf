"""Which of this package's apps a project's settings rely on (system check redis_patterns.E006).

A pattern's pieces (cache backend, session engine, middleware, auth backend, admin mixin,
model mixin, DRF throttle) import and run without their app in ``INSTALLED_APPS``, but
then lose what the app carries: templates (a 500 with ``TemplateDoesNotExist``), signal
receivers (the cached user is never invalidated), management commands and system checks.
The check runs from the core app and from every pattern app (each one's ``ready()``
registers it), so it still runs when the app it reports is the one missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.utils.module_loading import import_string

CORE_APP = "django_redis_patterns"

#: app -> what a project loses without it (shown in the hint).
CARRIES: dict[str, str] = {
    CORE_APP: "the system checks every pattern relies on and the redis_status command",
    f"{CORE_APP}.cache": "the cache backend's system checks (OPTIONS, serializers, KEY_PREFIX)",
    f"{CORE_APP}.sessions": (
        "the devices page and admin templates, the login receiver that records each device, "
        "the invalidation of CachedModelBackend's cached users, and its system checks"
    ),
    f"{CORE_APP}.ratelimit": "the system checks of REDIS_PATTERNS['RATELIMIT'] (rules, rates, proxies)",
    f"{CORE_APP}.locks": "the redis_locks command and the locks' system checks",
    f"{CORE_APP}.leaderboard": "the admin leaderboard templates, the leaderboard_rebuild command and its checks",
}


def apps_of(obj: Any) -> set[str]:
    """Our apps whose code ``obj`` (a class, an instance or a function) is built from."""
    if isinstance(obj, type):
        mro: tuple[Any, ...] = obj.__mro__
    elif callable(obj) and hasattr(obj, "__module__"):  # a function (function-style middleware)
        mro = (obj,)
    else:
        mro = type(obj).__mro__
    found: set[str] = set()
    for klass in mro:
        parts = str(getattr(klass, "__module__", "")).split(".")
        if parts[0] != CORE_APP:
            continue
        found.add(CORE_APP)
        if len(parts) > 1 and f"{CORE_APP}.{parts[1]}" in CARRIES:
            found.add(f"{CORE_APP}.{parts[1]}")
    return found


def _imported(path: Any) -> Any:
    try:
        return import_string(path)
    except Exception:  # a bad path is Django's (or the first request's) to report
        return None


def configured() -> Iterator[tuple[str, Any]]:
    """(where it is configured, the object) for every piece a project wires in."""
    for alias, config in (getattr(settings, "CACHES", None) or {}).items():
        yield f"CACHES[{alias!r}]['BACKEND']", _imported(config.get("BACKEND", ""))
    engine = getattr(settings, "SESSION_ENGINE", "")
    try:
        yield "SESSION_ENGINE", import_module(engine).SessionStore
    except Exception:
        pass
    for path in getattr(settings, "MIDDLEWARE", None) or []:
        yield f"MIDDLEWARE ({path})", _imported(path)
    for path in getattr(settings, "AUTHENTICATION_BACKENDS", None) or []:
        yield f"AUTHENTICATION_BACKENDS ({path})", _imported(path)
    drf = getattr(settings, "REST_FRAMEWORK", None) or {}
    if isinstance(drf, dict):
        for path in drf.get("DEFAULT_THROTTLE_CLASSES") or []:
            yield f"REST_FRAMEWORK['DEFAULT_THROTTLE_CLASSES'] ({path})", _imported(path)
    if apps.is_installed("django.contrib.admin"):
        from django.contrib.admin.sites import all_sites

        for site in all_sites:
            for model, model_admin in site._registry.items():
                yield f"the admin of {model._meta.label} ({type(model_admin).__qualname__})", model_admin
    for model in apps.get_models():
        yield f"model {model._meta.label}", model


def check_installed_apps() -> list[CheckMessage]:
    """E006: a pattern is configured, but its app (or the core app) is not installed."""
    missing: dict[str, str] = {}
    for where, obj in configured():
        if obj is None:
            continue
        for app in sorted(apps_of(obj)):
            if not apps.is_installed(app):
                missing.setdefault(app, where)
    return [
        Error(
            f"{where} uses {app!r}, which is not in INSTALLED_APPS.",
            hint=f"Add {app!r} to INSTALLED_APPS: it carries {CARRIES[app]}.",
            id="redis_patterns.E006",
        )
        for app, where in missing.items()
    ]
