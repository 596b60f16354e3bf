"""System checks and the REDIS_PATTERNS conf object."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import checks
from django.test import override_settings

from django_redis_patterns import conf
from django_redis_patterns.client import connections
from django_redis_patterns.exceptions import ImproperlyConfigured

OURS = "django_redis_patterns.cache.RedisCache"


def run_checks() -> dict[str, list[checks.CheckMessage]]:
    found: dict[str, list[checks.CheckMessage]] = {}
    for message in checks.run_checks():
        if message.id and message.id.startswith("redis_patterns."):
            found.setdefault(message.id, []).append(message)
    return found


def test_clean_settings_give_no_errors() -> None:
    assert run_checks() == {}


def test_unknown_alias() -> None:
    with override_settings(REDIS_PATTERNS={"USING": "defualt"}):
        errors = run_checks()["redis_patterns.E001"]
    assert "'defualt'" in errors[0].msg
    assert "Did you mean 'default'" in errors[0].hint


def test_section_alias_unknown() -> None:
    with override_settings(REDIS_PATTERNS={"LOCKS": {"USING": "locks"}}):
        errors = run_checks()["redis_patterns.E001"]
    assert "REDIS_PATTERNS['LOCKS']['USING']" in errors[0].msg


def test_alias_whose_backend_is_not_redis() -> None:
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(CACHES=caches):
        errors = run_checks()["redis_patterns.E002"]
    assert "LocMemCache" in errors[0].msg and "not Redis" in errors[0].msg


@pytest.mark.parametrize(
    "location, fragment",
    [
        ("127.0.0.1:6379", "is not a URL"),
        ("http://127.0.0.1:6379", "unsupported scheme"),
        ("redis+sentinel://h1:26379", "needs the service name"),
        ("redis+sentinel://h1/mymaster", "is not host:port"),
        ("redis+cluster://h1:7000?frobnicate=1", "unknown URL parameter"),
        ("redis://h:notaport/0", "malformed"),
    ],
)
def test_malformed_url(location: str, fragment: str) -> None:
    caches = {"default": {"BACKEND": OURS, "LOCATION": location}}
    with override_settings(CACHES=caches):
        errors = run_checks()["redis_patterns.E003"]
    assert fragment in errors[0].msg
    assert "redis+sentinel://" in errors[0].hint


def test_bad_timeout_option() -> None:
    caches = {"default": {"BACKEND": OURS, "LOCATION": "redis://h:1/0", "OPTIONS": {"SOCKET_TIMEOUT": "soon"}}}
    with override_settings(CACHES=caches):
        errors = run_checks()["redis_patterns.E008"]
    assert "SOCKET_TIMEOUT" in errors[0].msg


def test_unknown_setting_keys_are_reported_with_a_suggestion() -> None:
    with override_settings(REDIS_PATTERNS={"USNG": "default", "LOCKS": {"USIN": "default"}, "LOCK": {}}):
        errors = run_checks()["redis_patterns.E004"]
    messages = " ".join(e.msg for e in errors)
    hints = " ".join(e.hint or "" for e in errors)
    assert "'USNG'" in messages and "'USIN'" in messages and "'LOCK'" in messages
    assert "Did you mean 'USING'" in hints and "Did you mean 'LOCKS'" in hints


def test_setting_of_wrong_type() -> None:
    with override_settings(REDIS_PATTERNS=["USING"]):
        assert "redis_patterns.E005" in run_checks()
    with override_settings(REDIS_PATTERNS={"LOCKS": "default"}):
        assert "redis_patterns.E005" in run_checks()


def test_conf_defaults_and_override() -> None:
    assert conf.core().USING == "default"
    assert conf.default_alias(None, "LOCKS") == "default"
    with override_settings(REDIS_PATTERNS={"USING": "other", "LOCKS": {"USING": "locks"}}):
        assert conf.default_alias(None, "LOCKS") == "locks"
        assert conf.default_alias(None, "RATELIMIT") == "other"
        assert conf.default_alias("explicit", "LOCKS") == "explicit"
    assert conf.default_alias(None, "LOCKS") == "default"


def test_conf_rejects_unknown_keys_at_use() -> None:
    with override_settings(REDIS_PATTERNS={"LOCKS": {"TTLL": 3}}):
        with pytest.raises(ImproperlyConfigured, match=r"unknown key.*TTLL"):
            conf.section("LOCKS")


def test_repr_never_prints_a_password() -> None:
    spec = connections.parse("redis+sentinel://user:hunter2@h1:26379,h2:26379/svc/1", {"PASSWORD": "x"})
    assert "hunter2" not in repr(spec)
    standalone = connections.parse("redis://u:hunter2@h:6379/0")
    assert "hunter2" not in repr(standalone)
    assert "***" in repr(standalone)


def test_parse_sentinel_and_cluster_urls() -> None:
    spec = connections.parse(
        "redis+sentinel://app:pw@h1:26379,h2:26380/mymaster/2?sentinel_password=sp",
        {"SOCKET_TIMEOUT": 0.5},
    )
    assert (spec.topology, spec.nodes, spec.service, spec.db) == ("sentinel", ("h1:26379", "h2:26380"), "mymaster", 2)
    assert (spec.username, spec.password, spec.sentinel_password) == ("app", "pw", "sp")
    assert spec.socket_timeout == 0.5
    cluster = connections.parse("rediss+cluster://h1:7000,h2:7001?read_from_replicas=yes")
    assert (cluster.topology, cluster.ssl, cluster.read_from_replicas) == ("cluster", True, True)
    listed = connections.parse("redis://p:6379/0;redis://r:6379/0")
    assert listed.nodes == ("redis://p:6379/0", "redis://r:6379/0")


def test_fakeredis_helper_runs_a_script() -> None:
    from django_redis_patterns import get_redis
    from django_redis_patterns.client import scripts
    from django_redis_patterns.testing import use_fakeredis

    with use_fakeredis():
        client = get_redis()
        assert type(client).__module__.startswith("fakeredis")
        client.set("{t}k", "v")
        assert scripts.load("ping")(client, ["{t}k"], ["x"]) == [b"x", b"v"]
    with use_fakeredis():
        assert get_redis().get("{t}k") is None  # emptied on entry


def test_fake_redis_fixture(fake_redis: Any) -> None:
    fake_redis.set("a", 1)
    from django_redis_patterns import get_redis

    assert get_redis().get("a") == b"1"


def test_misconfigured_cache_fails_on_use_not_at_startup() -> None:
    from django.core.cache import caches

    with override_settings(CACHES={"default": {"BACKEND": OURS, "LOCATION": "nonsense"}}):
        assert "redis_patterns.E003" in run_checks()  # manage.py check reports it, no traceback
        with pytest.raises(ImproperlyConfigured, match="is not a URL"):
            caches["default"].get("k")


def test_every_configuration_error_is_also_djangos_improperly_configured() -> None:
    """Code written for Django, django-redis or django-ratelimit catches Django's exception."""
    import django.core.exceptions

    from django_redis_patterns.client import connections
    from django_redis_patterns.client.django_redis_options import UnsupportedOptions
    from django_redis_patterns.exceptions import ImproperlyConfigured, InvalidDatabase, InvalidOptions
    from django_redis_patterns.ratelimit.exceptions import RatelimitConfigError

    for error in (ImproperlyConfigured, InvalidDatabase, InvalidOptions, UnsupportedOptions, RatelimitConfigError):
        assert issubclass(error, django.core.exceptions.ImproperlyConfigured), error
    with pytest.raises(django.core.exceptions.ImproperlyConfigured, match="SOCKET_TIMEOUT"):
        connections.client_for_config("redis://127.0.0.1:6390/0", {"SOCKET_TIMEOUT": -1})
