"""System checks of REDIS_PATTERNS["RATELIMIT"] (ids redis_patterns.E020–E029, W020–W029)."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, register

from django_redis_patterns.exceptions import ImproperlyConfigured

from . import algorithms, headers
from .clientip import networks
from .rules import compile_rule


def _section() -> dict[str, Any] | None:
    value = getattr(django_settings, "REDIS_PATTERNS", None)
    if not isinstance(value, dict) or not isinstance(value.get("RATELIMIT"), dict):
        return None
    return value["RATELIMIT"]


@register("redis_patterns")
def check_ratelimit_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    raw = _section()
    if raw is None:
        return []
    where = 'REDIS_PATTERNS["RATELIMIT"]'
    errors: list[CheckMessage] = []
    rules = raw.get("RULES", ())
    if not isinstance(rules, list | tuple):
        errors.append(Error(f"{where}['RULES'] must be a list of dicts.", id="redis_patterns.E020"))
        rules = ()
    for index, rule in enumerate(rules):
        try:
            compile_rule(index, rule)
        except (ImproperlyConfigured, ImportError, ValueError) as exc:
            errors.append(Error(f"{where}: {exc}", id="redis_patterns.E020"))
    if "ALGORITHM" in raw and raw["ALGORITHM"] not in algorithms.ALGORITHMS:
        errors.append(
            Error(
                f"{where}['ALGORITHM'] is {raw['ALGORITHM']!r}.",
                hint=f"Use one of {', '.join(algorithms.ALGORITHMS)}.",
                id="redis_patterns.E021",
            )
        )
    try:
        networks(tuple(raw.get("TRUSTED_PROXIES", ())))
    except (ImproperlyConfigured, TypeError) as exc:
        errors.append(Error(f"{where}: {exc}", id="redis_patterns.E022"))
    for name, top in (("IPV4_MASK", 32), ("IPV6_MASK", 128)):
        value = raw.get(name, top)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= top:
            message = f"{where}['{name}'] must be an int in 1..{top}, got {value!r}."
            errors.append(Error(message, id="redis_patterns.E023"))
    if raw.get("HEADERS") not in headers.MODES:
        errors.append(
            Error(
                f"{where}['HEADERS'] is {raw.get('HEADERS')!r}.",
                hint="Use None, 'draft', 'legacy' or 'both'.",
                id="redis_patterns.E024",
            )
        )
    if raw.get("UNAVAILABLE_STATUS", 503) not in (429, 503):
        errors.append(Error(f"{where}['UNAVAILABLE_STATUS'] must be 429 or 503.", id="redis_patterns.E025"))
    errors += _check_middleware_order(rules)
    return errors


MIDDLEWARE = "django_redis_patterns.ratelimit.middleware.RatelimitMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def _check_middleware_order(rules: Any) -> list[CheckMessage]:
    """W020: rules keyed on the user need AuthenticationMiddleware to run first."""
    middleware = list(getattr(django_settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE not in middleware:
        return []
    uses_user = any(isinstance(r, dict) and r.get("key") in ("user", "user_or_ip") for r in rules)
    if not uses_user:
        return []
    if AUTH_MIDDLEWARE in middleware and middleware.index(AUTH_MIDDLEWARE) < middleware.index(MIDDLEWARE):
        return []
    return [
        Warning(
            "RatelimitMiddleware has RULES keyed on 'user'/'user_or_ip' but runs before "
            "AuthenticationMiddleware, so it sees no user: every request counts as anonymous.",
            hint=f"Put {MIDDLEWARE!r} after {AUTH_MIDDLEWARE!r} in MIDDLEWARE.",
            id="redis_patterns.W020",
        )
    ]
