"""System checks of REDIS_PATTERNS["RATELIMIT"] (ids redis_patterns.E020–E029, W020–W029)."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Warning, register

from django_redis_patterns.conf import aliased_values
from django_redis_patterns.exceptions import ImproperlyConfigured

from . import algorithms, headers
from .clientip import networks
from .conf import ALIASES, UNSUPPORTED, RatelimitSettings
from .rules import compile_rule


def _section() -> dict[str, Any] | None:
    value = getattr(django_settings, "REDIS_PATTERNS", None)
    if not isinstance(value, dict) or not isinstance(value.get("RATELIMIT"), dict):
        return None
    return value["RATELIMIT"]


@register("redis_patterns")
def check_ratelimit_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    section = _section()
    # django-ratelimit's names (RATELIMIT_IPV4_MASK, ...) are checked as the keys they alias.
    raw = {**aliased_values(RatelimitSettings, section or {}), **(section or {})}
    if not raw:
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


@register("redis_patterns")
def check_peer_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """django-ratelimit's and DRF's settings: read as aliases (W021), refused when we cannot
    honour them (E026), and the limiter's cache alias (E027, W022). DRF's in E028."""
    section = _section() or {}
    messages: list[CheckMessage] = []
    for legacy, target in ALIASES.items():
        if not hasattr(django_settings, legacy):
            continue
        field = target[0] if isinstance(target, tuple) else target
        new = f'REDIS_PATTERNS["RATELIMIT"]["{field}"]'
        if field in section:
            messages.append(
                Error(
                    f"{legacy} and {new} are both set; {legacy} is ignored.",
                    hint=f"Remove {legacy}.",
                    id="redis_patterns.E026",
                )
            )
        else:
            messages.append(
                Warning(
                    f"{legacy} is read as {new}.",
                    hint=f"Rename it to {new} (same meaning).",
                    id="redis_patterns.W021",
                )
            )
    for legacy, why in UNSUPPORTED.items():
        if hasattr(django_settings, legacy):
            messages.append(Error(f"{legacy} is not supported: {why}.", id="redis_patterns.E026"))
    return messages + _check_alias() + _check_drf()


def _check_alias() -> list[CheckMessage]:
    """The alias named by django-ratelimit's RATELIMIT_USE_CACHE (the core checks E001/E002
    cover the aliases REDIS_PATTERNS names): E027 missing or not Redis, W022 a DummyCache."""
    from django_redis_patterns.client.connections import dialect_of

    from .core import DUMMY_CACHE

    alias = getattr(django_settings, "RATELIMIT_USE_CACHE", None)
    if alias is None or "USING" in (_section() or {}):
        return []
    caches = getattr(django_settings, "CACHES", {}) or {}
    hint = "Set REDIS_PATTERNS['RATELIMIT']['USING'] to a Redis alias of CACHES."
    if alias not in caches:
        return [
            Error(
                f"RATELIMIT_USE_CACHE names cache alias {alias!r}, which is not in CACHES.",
                hint=hint,
                id="redis_patterns.E027",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    if backend == DUMMY_CACHE:
        return [
            Warning(
                f"RATELIMIT_USE_CACHE names {alias!r}, a DummyCache: nothing is counted, no request is limited.",
                hint=hint,
                id="redis_patterns.W022",
            )
        ]
    if not dialect_of(backend):
        return [
            Error(
                f"RATELIMIT_USE_CACHE names cache alias {alias!r}, whose backend {backend!r} is not Redis.",
                hint=hint,
                id="redis_patterns.E027",
            )
        ]
    return []


DRF_THROTTLES = "django_redis_patterns.ratelimit.drf."


def _check_drf() -> list[CheckMessage]:
    """E028: DRF settings our throttles cannot honour, when they are in use."""
    rest = getattr(django_settings, "REST_FRAMEWORK", None)
    if not isinstance(rest, dict):
        return []
    classes = [c for c in rest.get("DEFAULT_THROTTLE_CLASSES", ()) if isinstance(c, str)]
    rates = rest.get("DEFAULT_THROTTLE_RATES")
    ours = any(c.startswith(DRF_THROTTLES) for c in classes)
    if not ours and not (isinstance(rates, dict) and _drf_in_use()):
        return []
    messages: list[CheckMessage] = []
    if rest.get("NUM_PROXIES") is not None and (_section() or {}).get("TRUSTED_PROXIES"):
        messages.append(
            Error(
                "REST_FRAMEWORK['NUM_PROXIES'] and REDIS_PATTERNS['RATELIMIT']['TRUSTED_PROXIES'] are both set; "
                "the throttles would follow NUM_PROXIES while the rest of the limiter follows TRUSTED_PROXIES.",
                hint="Keep TRUSTED_PROXIES (the CIDRs of your proxies) and remove NUM_PROXIES.",
                id="redis_patterns.E028",
            )
        )
    from .rates import RateError, parse

    for scope, rate in (rates or {}).items() if isinstance(rates, dict) else ():
        try:
            parse(rate)
        except RateError as exc:
            messages.append(
                Error(
                    f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'][{scope!r}]: {exc}",
                    hint="Write it as '<count>/<unit>' with unit s, sec, m, min, h, hour, d or day (e.g. '100/day').",
                    id="redis_patterns.E028",
                )
            )
    return messages


def _drf_in_use() -> bool:
    # Views may name our throttle classes directly; the rates still come from the settings.
    import sys

    return "django_redis_patterns.ratelimit.drf" in sys.modules
