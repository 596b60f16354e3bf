"""Rate parsing: every accepted form, and errors that quote the bad value."""

from __future__ import annotations

import pytest
from django.core.checks import run_checks

from django_redis_patterns.ratelimit import Rate, RateError
from django_redis_patterns.ratelimit.rates import parse, resolve
from tests.ratelimit.conftest import ratelimit_settings


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("5/m", (Rate(5, 60.0),)),
        ("100/5m", (Rate(100, 300.0),)),
        ("10/s;1000/d", (Rate(10, 1.0), Rate(1000, 86400.0))),
        ("5/minute", (Rate(5, 60.0),)),
        ("3/2h", (Rate(3, 7200.0),)),
        ((7, 30), (Rate(7, 30.0),)),
        ((7, 0.5), (Rate(7, 0.5),)),
        ([(1, 1), "10/m"], (Rate(1, 1.0), Rate(10, 60.0))),
        # django-ratelimit's forms: a count of 0 refuses everything; no unit means seconds
        ("0/m", (Rate(0, 60.0),)),
        ((0, 60), (Rate(0, 60.0),)),
        ("100/300", (Rate(100, 300.0),)),
        ("100/10s", (Rate(100, 10.0),)),
        (None, ()),
    ],
)
def test_accepted_forms(spec: object, expected: tuple[Rate, ...]) -> None:
    assert parse(spec) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "quoted"),
    [
        ("5/fortnight", "'5/fortnight'"),
        ("five/m", "'five/m'"),
        ("5/", "'5/'"),
        ("-1/m", "'-1/m'"),
        ("5/0m", "'5/0m'"),
        ("", "''"),
        ((-1, 60), "(-1, 60)"),
        ((5, -1), "(5, -1)"),
        (("5", 60), "('5', 60)"),
        ("5/m;10/m", "'5/m;10/m'"),
        (42, "42"),
    ],
)
def test_bad_rates_name_the_value(spec: object, quoted: str) -> None:
    with pytest.raises(RateError) as info:
        parse(spec)  # type: ignore[arg-type]
    assert quoted in str(info.value)


def test_callable_rate_gets_group_and_request_and_may_return_none() -> None:
    seen = []

    def rate(group: str, request: object) -> str | None:
        seen.append((group, request))
        return None if request == "staff" else "5/m"

    assert resolve(rate, "g", "staff") == ()
    assert resolve(rate, "g", "anon") == (Rate(5, 60.0),)
    assert seen == [("g", "staff"), ("g", "anon")]


def test_rate_labels() -> None:
    assert [r.label for r in parse("1/s;2/90s;3/5m;4/2h;5/d")] == ["1s", "90s", "5m", "2h", "1d"]


def test_system_check_reports_bad_rates_and_settings(settings: object) -> None:
    ratelimit_settings(
        settings,
        RULES=[{"path": "/login/", "rate": "5/fortnight"}, {"regex": "^/api/", "rate": "10/s", "color": "red"}],
        ALGORITHM="leaky",
        TRUSTED_PROXIES=["10.0.0.0/33"],
        IPV6_MASK=200,
        HEADERS="yes",
    )
    found = [m for m in run_checks() if m.id and m.id.startswith("redis_patterns.E02")]
    assert {m.id for m in found} == {
        "redis_patterns.E020",
        "redis_patterns.E021",
        "redis_patterns.E022",
        "redis_patterns.E023",
        "redis_patterns.E024",
    }
    rule_errors = [m.msg for m in found if m.id == "redis_patterns.E020"]
    assert any("'5/fortnight'" in msg and "RULES[0]" in msg for msg in rule_errors)
    assert any("color" in msg and "RULES[1]" in msg for msg in rule_errors)


def test_system_check_is_quiet_for_good_settings(settings: object) -> None:
    ratelimit_settings(
        settings,
        RULES=[{"path": "/login/", "rate": "5/m;20/h", "methods": ["POST"], "exempt_ips": ["10.0.0.0/8"]}],
        ALGORITHM="sliding_log",
        TRUSTED_PROXIES=["10.0.0.0/8", "2001:db8::/32"],
        HEADERS="draft",
    )
    assert [m for m in run_checks() if m.id and m.id.startswith("redis_patterns.E02")] == []


def test_w020_user_rules_need_authentication_middleware_first(settings: object) -> None:
    mw = "django_redis_patterns.ratelimit.middleware.RatelimitMiddleware"
    ratelimit_settings(settings, RULES=[{"path": "/api/", "key": "user_or_ip", "rate": "5/m"}])
    settings.MIDDLEWARE = [mw, *settings.MIDDLEWARE]  # type: ignore[attr-defined]
    assert "redis_patterns.W020" in {m.id for m in run_checks()}
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != mw] + [mw]  # type: ignore[attr-defined]
    assert "redis_patterns.W020" not in {m.id for m in run_checks()}
