"""django-ratelimit's and DRF's settings: honoured as aliases of ours, or refused by a system
check that names them and the alternative; never silently ignored."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import InvalidCacheBackendError
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from django_redis_patterns import get_redis
from django_redis_patterns.ratelimit import Limiter, get_usage, is_ratelimited, ratelimit
from django_redis_patterns.ratelimit.clientip import client_ip
from django_redis_patterns.ratelimit.conf import get as ratelimit_conf
from tests.ratelimit.conftest import ratelimit_settings

rf = RequestFactory()


def ids() -> list[tuple[str, str]]:
    return [(m.id, m.msg) for m in run_checks() if m.id and m.id.startswith("redis_patterns.")]


def messages(check_id: str) -> list[str]:
    return [msg for id_, msg in ids() if id_ == check_id]


@pytest.mark.parametrize(
    ("legacy", "value", "field"),
    [
        ("RATELIMIT_ENABLE", False, "ENABLE"),
        ("RATELIMIT_FAIL_OPEN", True, "FAIL_OPEN"),
        ("RATELIMIT_IP_META_KEY", "HTTP_X_REAL_IP", "IP_META_KEY"),
        ("RATELIMIT_IPV4_MASK", 24, "IPV4_MASK"),
        ("RATELIMIT_IPV6_MASK", 48, "IPV6_MASK"),
        ("RATELIMIT_VIEW", "tests.ratelimit.views.plain", "VIEW"),
        ("RATELIMIT_USE_CACHE", "default", "USING"),
    ],
)
def test_django_ratelimit_settings_are_read_with_a_warning(settings: Any, legacy: str, value: Any, field: str) -> None:
    setattr(settings, legacy, value)
    assert getattr(ratelimit_conf(), field) == value
    warned = messages("redis_patterns.W021")
    assert warned == [f'{legacy} is read as REDIS_PATTERNS["RATELIMIT"]["{field}"].']


def test_cache_prefix_alias_drops_the_trailing_colon(settings: Any) -> None:
    settings.RATELIMIT_CACHE_PREFIX = "myapp-rl:"
    assert ratelimit_conf().KEY_PREFIX == "myapp-rl"
    assert Limiter().keys("k", "5/m")[0].startswith("myapp-rl:{")


def test_our_setting_wins_and_both_set_is_an_error(settings: Any) -> None:
    settings.RATELIMIT_IPV4_MASK = 24
    ratelimit_settings(settings, IPV4_MASK=16)
    assert ratelimit_conf().IPV4_MASK == 16
    assert messages("redis_patterns.E026") == [
        'RATELIMIT_IPV4_MASK and REDIS_PATTERNS["RATELIMIT"]["IPV4_MASK"] are both set; RATELIMIT_IPV4_MASK is ignored.'
    ]


def test_unsupported_django_ratelimit_setting_is_an_error(settings: Any) -> None:
    settings.RATELIMIT_HASH_ALGORITHM = "hashlib.md5"
    [message] = messages("redis_patterns.E026")
    assert "RATELIMIT_HASH_ALGORITHM is not supported" in message and "remove the setting" in message


def test_enable_false_turns_limits_off(topology: Any, settings: Any) -> None:
    settings.RATELIMIT_ENABLE = False

    @ratelimit(key="ip", rate="1/d", block=False)
    def view(request: Any) -> bool:
        return bool(request.limited)

    assert [view(rf.get("/")) for _ in range(3)] == [False, False, False]
    assert get_usage(rf.get("/"), group="g", key="ip", rate="1/d") is None


def test_use_cache_names_the_alias(topology: Any, settings: Any) -> None:
    settings.CACHES = {**settings.CACHES, "limits": topology.cache_config()}
    settings.RATELIMIT_USE_CACHE = "limits"
    assert Limiter().alias == "limits"
    settings.RATELIMIT_USE_CACHE = "nope"
    with pytest.raises(InvalidCacheBackendError, match="'nope' is not in CACHES"):
        is_ratelimited(rf.get("/"), group="g", key="ip", rate="1/d", increment=True)
    assert messages("redis_patterns.E027") == ["RATELIMIT_USE_CACHE names cache alias 'nope', which is not in CACHES."]


def test_non_redis_alias_is_an_error(topology: Any, settings: Any) -> None:
    settings.CACHES = {**settings.CACHES, "loc": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.RATELIMIT_USE_CACHE = "loc"
    with pytest.raises(InvalidCacheBackendError, match="not a Redis backend"):
        is_ratelimited(rf.get("/"), group="g", key="ip", rate="1/d", increment=True)
    [message] = messages("redis_patterns.E027")
    assert message == (
        "RATELIMIT_USE_CACHE names cache alias 'loc', whose backend "
        "'django.core.cache.backends.locmem.LocMemCache' is not Redis."
    )
    del settings.RATELIMIT_USE_CACHE
    ratelimit_settings(settings, USING="loc")  # our own setting: the core check E002 reports it
    assert messages("redis_patterns.E027") == [] and len(messages("redis_patterns.E002")) == 1


def test_dummy_cache_alias_counts_nothing_with_a_warning(topology: Any, settings: Any) -> None:
    settings.CACHES = {**settings.CACHES, "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.RATELIMIT_USE_CACHE = "dummy"
    answers = [is_ratelimited(rf.get("/"), group="g", key="ip", rate="1/d", increment=True) for _ in range(3)]
    assert answers == [False, False, False]
    assert messages("redis_patterns.W022") == [
        "RATELIMIT_USE_CACHE names 'dummy', a DummyCache: nothing is counted, no request is limited."
    ]


def test_missing_ip_meta_key_raises_instead_of_sharing_a_bucket(settings: Any) -> None:
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    assert client_ip(rf.get("/", HTTP_X_REAL_IP="198.51.100.4")) == "198.51.100.4"
    with pytest.raises(ImproperlyConfigured, match="HTTP_X_REAL_IP"):
        client_ip(rf.get("/"))


def test_masks_from_django_ratelimit_settings(settings: Any) -> None:
    settings.RATELIMIT_IPV4_MASK = 16
    settings.RATELIMIT_IPV6_MASK = 128
    assert client_ip(rf.get("/", REMOTE_ADDR="10.1.2.3")) == "10.1.0.0/16"
    assert client_ip(rf.get("/", REMOTE_ADDR="2001:db8::1")) == "2001:db8::1"


def test_zero_rate_refuses_everything_without_touching_redis(topology: Any) -> None:
    limiter = Limiter()
    usage = limiter.hit("zero", "0/m")
    assert (usage.allowed, usage.limit, usage.count) == (False, 0, 1)
    assert not limiter.hit("zero", "0/m;10/s").allowed
    assert get_redis().dbsize() == 0  # nothing was written


def test_functions_carry_all_and_unsafe() -> None:
    assert get_usage.ALL == is_ratelimited.ALL == ratelimit.ALL  # type: ignore[attr-defined]
    assert get_usage.UNSAFE == is_ratelimited.UNSAFE == ["DELETE", "PATCH", "POST", "PUT"]  # type: ignore[attr-defined]


def test_drf_num_proxies_with_trusted_proxies_is_an_error(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_CLASSES": ["django_redis_patterns.ratelimit.drf.AnonRateThrottle"],
        "NUM_PROXIES": 1,
    }
    ratelimit_settings(settings, TRUSTED_PROXIES=["10.0.0.0/8"])
    [message] = messages("redis_patterns.E028")
    assert message.startswith("REST_FRAMEWORK['NUM_PROXIES'] and REDIS_PATTERNS['RATELIMIT']['TRUSTED_PROXIES']")


def test_drf_rate_we_cannot_parse_is_an_error(settings: Any) -> None:
    # DRF reads only the unit's first letter ("5/mo" is 5 a minute); ours refuses to guess.
    settings.REST_FRAMEWORK = {
        "DEFAULT_THROTTLE_CLASSES": ["django_redis_patterns.ratelimit.drf.AnonRateThrottle"],
        "DEFAULT_THROTTLE_RATES": {"anon": "5/mo", "user": "100/day"},
    }
    [message] = messages("redis_patterns.E028")
    assert message.startswith("REST_FRAMEWORK['DEFAULT_THROTTLE_RATES']['anon']: rate '5/mo'")


def test_a_bad_value_under_a_django_ratelimit_name_fails_the_same_check(settings: Any) -> None:
    settings.RATELIMIT_IPV4_MASK = 33
    assert messages("redis_patterns.E023") == [
        "REDIS_PATTERNS[\"RATELIMIT\"]['IPV4_MASK'] must be an int in 1..32, got 33."
    ]


async def test_zero_rate_refuses_async_too(topology: Any) -> None:
    usage = await Limiter().ahit("zero", "0/m")
    assert not usage.allowed and usage.retry_after == 60.0


def test_a_peek_does_not_fail_closed(settings: Any, tmp_path: Any) -> None:
    """With Redis unreachable a counting check follows FAIL_OPEN (closed here); a peek, which
    counts and guards nothing, answers not limited, as django-ratelimit's increment=False."""
    settings.CACHES = {
        **settings.CACHES,
        "gone": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": f"unix://{tmp_path}/none.sock"},
    }
    limiter = Limiter(using="gone")
    assert (limiter.hit("k", "5/m").allowed, limiter.peek("k", "5/m").allowed) == (False, True)
    assert limiter.peek("k", "5/m").unavailable
    assert is_ratelimited(rf.get("/"), group="g", key="ip", rate="5/m", increment=True, using="gone")
    assert not is_ratelimited(rf.get("/"), group="g", key="ip", rate="5/m", increment=False, using="gone")
