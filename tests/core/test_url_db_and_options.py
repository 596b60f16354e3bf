"""A bad db in a URL (redis_patterns.E007), every bad connection OPTION at once (E008),
plain redis:// to a remote server without a password (W001, check --deploy)."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.core import checks
from django.test import override_settings

from django_redis_patterns import aget_redis, get_redis
from django_redis_patterns.exceptions import InvalidDatabase, InvalidOptions
from django_redis_patterns.testing import servers

OURS = "django_redis_patterns.cache.RedisCache"
DJANGOS = "django.core.cache.backends.redis.RedisCache"


def ours(deploy: bool = False) -> dict[str, list[checks.CheckMessage]]:
    found: dict[str, list[checks.CheckMessage]] = {}
    for message in checks.run_checks(include_deployment_checks=deploy):
        if message.id and message.id.startswith("redis_patterns."):
            found.setdefault(message.id, []).append(message)
    return found


@pytest.mark.parametrize(
    "location, part",
    [
        ("redis://cache.internal:6379/abc", "'abc'"),  # redis-py alone would use db 0
        ("redis://cache.internal:6379/-1", "'-1'"),
        ("redis://cache.internal:6379/1/2", "'1/2'"),  # redis-py alone would use db 12
        ("redis://cache.internal:6379?db=two", "'two'"),
        ("unix:///run/redis.sock?db=-3", "'-3'"),
        ("redis+sentinel://h1:26379/mymaster/x", "'x'"),
        ("redis+cluster://h1:7000/3", "only db 0"),
    ],
)
def test_bad_db_is_a_check_error_naming_alias_and_url_part(location: str, part: str) -> None:
    caches = {
        "default": {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:1/0"},
        "sessions": {"BACKEND": OURS, "LOCATION": location},
    }
    with override_settings(CACHES=caches):
        found = ours()
    assert list(found) == ["redis_patterns.E007"], found
    [error] = found["redis_patterns.E007"]
    assert "'sessions'" in error.msg and part in error.msg
    assert "db" in (error.hint or "")


def test_bad_db_on_djangos_backend_too() -> None:
    with override_settings(CACHES={"default": {"BACKEND": DJANGOS, "LOCATION": "redis://h:6379/abc"}}):
        assert "redis_patterns.E007" in ours()


def test_bad_db_fails_at_connect_time_with_the_same_message() -> None:
    with override_settings(CACHES={"default": {"BACKEND": OURS, "LOCATION": "redis://127.0.0.1:6380/abc"}}):
        with pytest.raises(InvalidDatabase, match=r"CACHES\['default'\]\['LOCATION'\].*db 'abc'"):
            get_redis()


@pytest.mark.parametrize("use_async", [False, True])
async def test_db_the_server_lacks_names_the_db_and_server(
    standalone_server: servers.Standalone, use_async: bool
) -> None:
    # The test server has Redis's default 16 databases: db 16 passes parsing, the server refuses it.
    url = standalone_server.url.rsplit("/", 1)[0] + "/16"
    with override_settings(CACHES={"default": {"BACKEND": OURS, "LOCATION": url}}):
        assert ours() == {}
        port = standalone_server.primary.port
        with pytest.raises(
            redis.ResponseError, match=rf"SELECT 16 failed on 127.0.0.1:{port}: DB index is out of range"
        ):
            if use_async:
                await (await aget_redis()).ping()
            else:
                get_redis().ping()


def test_every_bad_option_is_reported_in_one_run() -> None:
    options: dict[str, Any] = {
        "SOCKET_TIMEOUT": "soon",
        "SOCKET_CONNECT_TIMEOUT": 0,
        "RETRIES": -1,
        "LEAN_CLIENT": "yes",
        "MAX_CONNECTIONS": 0,
        "SPIN_WAIT_US": 2000,
        "PASSWORD": "fine",
    }
    with override_settings(CACHES={"default": {"BACKEND": OURS, "LOCATION": "redis://h:6379/0", "OPTIONS": options}}):
        errors = ours()["redis_patterns.E008"]
        with pytest.raises(InvalidOptions) as raised:
            get_redis()
    named = sorted(option for option in options if any(f"['OPTIONS'][{option!r}]" in e.msg for e in errors))
    assert named == [
        "LEAN_CLIENT",
        "MAX_CONNECTIONS",
        "RETRIES",
        "SOCKET_CONNECT_TIMEOUT",
        "SOCKET_TIMEOUT",
        "SPIN_WAIT_US",
    ]
    assert len(errors) == 6
    for error in errors:
        assert "redis://" not in (error.hint or "")  # about options, not URL examples
        assert "Connection OPTIONS:" in (error.hint or "")
    [timeout] = [e for e in errors if "'SOCKET_TIMEOUT'" in e.msg]
    assert timeout.hint and timeout.hint.startswith("SOCKET_TIMEOUT takes seconds, a number > 0")
    assert len(raised.value.problems) == 6  # the error at first use lists them all too


def test_bad_url_and_bad_option_are_both_reported() -> None:
    config = {"BACKEND": OURS, "LOCATION": "redis://h:6379/abc", "OPTIONS": {"RETRIES": "x"}}
    with override_settings(CACHES={"default": config}):
        found = ours()
    assert sorted(found) == ["redis_patterns.E007", "redis_patterns.E008"]


def test_djangos_backend_lower_case_options() -> None:
    options = {"db": "one", "socket_timeout": -1}
    with override_settings(CACHES={"default": {"BACKEND": DJANGOS, "LOCATION": "redis://h:6379", "OPTIONS": options}}):
        errors = ours()["redis_patterns.E008"]
    assert len(errors) == 2
    assert any("CACHES['default']['OPTIONS']['db'] must be a database number" in e.msg for e in errors)
    assert any("CACHES['default']['OPTIONS']['socket_timeout'] must be > 0" in e.msg for e in errors)


@pytest.mark.parametrize(
    "location, options, warns",
    [
        ("redis://10.0.0.5:6379/0", {}, True),
        ("redis://cache.internal:6379/0", {}, True),
        ("redis://127.0.0.1:6379/0;redis://10.0.0.6:6379/0", {}, True),  # a remote replica
        ("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster/0", {}, True),
        ("redis+cluster://10.0.0.1:7000", {}, True),
        ("redis://:s3cret@10.0.0.5:6379/0", {}, False),
        ("redis://10.0.0.5:6379/0", {"PASSWORD": "s3cret"}, False),
        ("redis://10.0.0.5:6379/0", {"CONNECTION_POOL_KWARGS": {"password": "s3cret"}}, False),
        ("rediss://10.0.0.5:6380/0", {}, False),
        ("rediss+cluster://10.0.0.1:7000", {}, False),
        ("redis+sentinel://u:pw@10.0.0.1:26379/mymaster/0", {}, False),
        ("redis://127.0.0.1:6379/0", {}, False),
        ("redis://localhost:6379/0", {}, False),
        ("redis://[::1]:6379/0", {}, False),
        ("unix:///run/redis.sock", {}, False),
    ],
)
def test_deploy_warns_about_plain_unauthenticated_remote_redis(
    location: str, options: dict[str, Any], warns: bool
) -> None:
    config = {"BACKEND": OURS, "LOCATION": location, "OPTIONS": options}
    with override_settings(CACHES={"default": config}):
        found = ours(deploy=True)
        assert "redis_patterns.W001" not in ours(deploy=False)  # only under check --deploy
    assert ("redis_patterns.W001" in found) is warns, found
    if warns:
        [warning] = found["redis_patterns.W001"]
        assert "'default'" in warning.msg and "rediss://" in (warning.hint or "")


def test_deploy_warning_on_djangos_backend_honours_its_password_option() -> None:
    config: dict[str, Any] = {"BACKEND": DJANGOS, "LOCATION": "redis://10.0.0.5:6379"}
    with override_settings(CACHES={"default": config}):
        assert "redis_patterns.W001" in ours(deploy=True)
    with override_settings(CACHES={"default": {**config, "OPTIONS": {"password": "s3cret"}}}):
        assert "redis_patterns.W001" not in ours(deploy=True)


SESSIONS = "django_redis_patterns.sessions.backend"
CACHED_USERS = "django_redis_patterns.sessions.auth.CachedModelBackend"


@pytest.mark.parametrize(
    "location, options, gaps",
    [
        ("rediss://10.0.0.5:6380/0", {}, ["no password or ACL user"]),  # encrypted, but anyone may connect
        ("redis://:s3cret@10.0.0.5:6379/0", {}, ["no TLS"]),  # the password crosses the network in clear
        ("redis://10.0.0.5:6379/0", {"PASSWORD": "s3cret"}, ["no TLS"]),
        ("rediss+cluster://10.0.0.1:7000", {}, ["no password or ACL user"]),
        ("redis+sentinel://10.0.0.1:26379/mymaster/0", {"PASSWORD": "pw"}, ["no TLS"]),
        ("rediss://app:s3cret@10.0.0.5:6380/0", {}, []),
        ("rediss://10.0.0.5:6380/0", {"USERNAME": "app", "PASSWORD": "s3cret"}, []),
        ("rediss+cluster://10.0.0.1:7000", {"PASSWORD": "s3cret"}, []),
        ("redis://127.0.0.1:6379/0", {}, []),  # loopback: never leaves the machine (as W001)
        ("unix:///run/redis.sock", {}, []),
        ("redis://10.0.0.5:6379/0", {}, []),  # W001 reports it already
    ],
)
@pytest.mark.parametrize("holder", ["engine", "cached users"])
def test_deploy_warns_when_the_sessions_alias_lacks_a_password_or_tls(
    location: str, options: dict[str, Any], gaps: list[str], holder: str
) -> None:
    wiring: dict[str, Any] = (
        {"SESSION_ENGINE": SESSIONS}
        if holder == "engine"
        else {"AUTHENTICATION_BACKENDS": [CACHED_USERS], "SESSION_ENGINE": "django.contrib.sessions.backends.db"}
    )
    config = {"BACKEND": OURS, "LOCATION": location, "OPTIONS": options}
    other = {"BACKEND": OURS, "LOCATION": "rediss://10.0.0.9:6380/0"}  # not the sessions' alias: no W014
    with override_settings(CACHES={"default": config, "other": other}, SESSION_CACHE_ALIAS="default", **wiring):
        found = ours(deploy=True)
        assert "redis_patterns.W014" not in ours(deploy=False)  # only under check --deploy
    assert ("redis_patterns.W014" in found) is bool(gaps), found
    if gaps:
        [warning] = found["redis_patterns.W014"]
        assert "'default'" in warning.msg and " and ".join(gaps) in warning.msg
        assert ("sessions" if holder == "engine" else "cached users") in warning.msg


def test_no_session_warning_without_our_sessions_or_cached_users() -> None:
    config = {"BACKEND": OURS, "LOCATION": "rediss://10.0.0.5:6380/0"}
    with override_settings(
        CACHES={"default": config},
        SESSION_ENGINE="django.contrib.sessions.backends.db",
        AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"],
    ):
        assert "redis_patterns.W014" not in ours(deploy=True)
