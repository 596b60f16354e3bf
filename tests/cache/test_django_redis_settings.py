"""django-redis's settings with only BACKEND changed: mapped onto ours, or refused by a system
check (redis_patterns.E009 / E003) -- never accepted and silently ignored."""

from __future__ import annotations

from typing import Any

import pytest
import redis.connection
from django.core import checks
from django.core.cache import caches
from django.test import override_settings

from django_redis_patterns.client import connections

OURS = "django_redis_patterns.cache.RedisCache"
THEIRS = "django_redis.cache.RedisCache"


def errors(**cache: Any) -> list[checks.CheckMessage]:
    with override_settings(CACHES={"default": {"BACKEND": OURS, **cache}}):
        return [m for m in checks.run_checks() if (m.id or "").startswith("redis_patterns.")]


def the_error(expected_id: str, **cache: Any) -> checks.CheckMessage:
    found = errors(**cache)
    assert [m.id for m in found] == [expected_id], found
    return found[0]


@pytest.mark.parametrize("client_class", ["django_redis.client.ShardClient", "django_redis.client.sharded.ShardClient"])
def test_shard_client_is_refused_naming_client_class_and_cluster(client_class: str) -> None:
    error = the_error(
        "redis_patterns.E009",
        LOCATION=["redis://127.0.0.1:6379/9", "redis://127.0.0.1:6379/10"],
        OPTIONS={"CLIENT_CLASS": client_class},
    )
    assert f"['OPTIONS']['CLIENT_CLASS'] = {client_class!r}" in error.msg
    assert "redis+cluster://" in error.msg


def test_a_refused_alias_fails_every_call_instead_of_missing(standalone_server: Any) -> None:
    config = {"BACKEND": OURS, "LOCATION": [standalone_server.url, standalone_server.url]}
    with override_settings(
        CACHES={"default": {**config, "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"}}}
    ):
        with pytest.raises(Exception, match="ShardClient"):
            caches["default"].set("k", 1)
        with pytest.raises(Exception, match="ShardClient"):
            caches["default"].get("k")


@pytest.mark.parametrize(
    "options, option, fragment",
    [
        ({"CLIENT_CLASS": "django_redis.client.HerdClient"}, "CLIENT_CLASS", "STAMPEDE"),
        ({"CLIENT_CLASS": "myproject.cache.MyClient"}, "CLIENT_CLASS", "has no client classes"),
        ({"CONNECTION_FACTORY": "myproject.cache.Factory"}, "CONNECTION_FACTORY", "Remove it"),
        ({"CONNECTION_POOL_CLASS": "redis.BlockingConnectionPool"}, "CONNECTION_POOL_CLASS", "MAX_CONNECTIONS"),
        ({"REDIS_CLIENT_CLASS": "myproject.cache.Redis"}, "REDIS_CLIENT_CLASS", "Remove it"),
        ({"REDIS_CLIENT_KWARGS": {"protocol": 3}}, "REDIS_CLIENT_KWARGS", "CONNECTION_POOL_KWARGS"),
        ({"REPLICA_READ_ONLY": False}, "REPLICA_READ_ONLY", "remove it"),
        ({"PARSER_CLASS": "myproject.Parser"}, "PARSER_CLASS", "redis-py's default"),
        ({"SENTINELS": [("127.0.0.1", 26379)]}, "SENTINELS", "redis+sentinel://"),
    ],
)
def test_django_redis_options_that_cannot_be_honoured(options: dict[str, Any], option: str, fragment: str) -> None:
    error = the_error("redis_patterns.E009", LOCATION="redis://127.0.0.1:6379/0", OPTIONS=options)
    assert f"['{option}']" in error.msg or f"{option} = " in error.msg
    assert fragment in error.msg


def test_every_unhonoured_option_is_reported_in_one_run() -> None:
    found = errors(
        LOCATION="redis://127.0.0.1:6379/0",
        OPTIONS={"CLIENT_CLASS": "django_redis.client.HerdClient", "REDIS_CLIENT_KWARGS": {"a": 1}},
    )
    assert [m.id for m in found] == ["redis_patterns.E009", "redis_patterns.E009"]


def test_defaults_written_out_are_accepted() -> None:
    assert (
        errors(
            LOCATION="redis://127.0.0.1:6379/0",
            OPTIONS={
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "CONNECTION_FACTORY": "django_redis.pool.ConnectionFactory",
                "CONNECTION_POOL_CLASS": "redis.ConnectionPool",
                "CONNECTION_POOL_CLASS_KWARGS": {"max_connections": 50},
                "PARSER_CLASS": f"redis.connection.{redis.connection.DefaultParser.__name__}",
                "REDIS_CLIENT_CLASS": "redis.client.Redis",
                "REPLICA_READ_ONLY": True,
            },
        )
        == []
    )


def test_pool_class_kwargs_reach_the_pool(standalone_server: Any) -> None:
    spec = connections.parse(standalone_server.url, {"CONNECTION_POOL_CLASS_KWARGS": {"max_connections": 7}})
    client = connections.client_for_spec(spec)
    assert client.connection_pool.max_connections == 7
    assert client.ping() is True


def test_a_parser_other_than_the_one_in_use_is_refused() -> None:
    other = "_RESP2Parser" if redis.connection.DefaultParser.__name__ != "_RESP2Parser" else "_RESP3Parser"
    options = {"PARSER_CLASS": f"redis.connection.{other}"}
    error = the_error("redis_patterns.E009", LOCATION="redis://127.0.0.1:6379/0", OPTIONS=options)
    assert "PARSER_CLASS" in error.msg


@pytest.mark.parametrize(
    "location", ["redis://127.0.0.1/0", "redis://default_service?db=8", "rediss://cache.example/0"]
)
def test_a_location_without_a_port_is_refused(location: str) -> None:
    error = the_error("redis_patterns.E003", LOCATION=location)
    assert "names no port" in error.msg and "redis+sentinel://" in error.msg


def test_django_redis_sentinel_settings_are_mapped_onto_sentinel() -> None:
    sentinels = [("10.0.0.1", 26379), ("10.0.0.2", 26379)]
    client_only = connections.parse(
        "redis://mymaster/2", {"CLIENT_CLASS": "django_redis.client.SentinelClient", "SENTINELS": sentinels}
    )
    assert (client_only.topology, client_only.service, client_only.db) == ("sentinel", "mymaster", 2)
    assert client_only.nodes == ("10.0.0.1:26379", "10.0.0.2:26379")
    assert client_only.read_from_replicas is True  # SentinelClient reads from a replica
    factory_only = connections.parse(
        ["redis://:secret@mymaster?db=3"],
        {
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": sentinels,
            "SENTINEL_KWARGS": {"password": "s3"},
        },
    )
    assert (factory_only.service, factory_only.db, factory_only.read_from_replicas) == ("mymaster", 3, False)
    assert (factory_only.password, factory_only.sentinel_password) == ("secret", "s3")
    with override_settings(DJANGO_REDIS_CONNECTION_FACTORY="django_redis.pool.SentinelConnectionFactory"):
        global_factory = connections.parse("redis://mymaster?db=1", {"SENTINELS": sentinels})
    assert (global_factory.topology, global_factory.db) == ("sentinel", 1)


def test_sentinel_settings_without_sentinels_are_refused() -> None:
    error = the_error(
        "redis_patterns.E009",
        LOCATION="redis://mymaster/0",
        OPTIONS={"CLIENT_CLASS": "django_redis.client.SentinelClient"},
    )
    assert "SENTINELS" in error.msg


def test_an_unused_alias_left_on_django_redis_keeps_its_own_settings(settings: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "legacy": {
            "BACKEND": THEIRS,
            "LOCATION": ["redis://127.0.0.1:6379/9", "redis://127.0.0.1:6379/10"],
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.ShardClient"},
        },
    }
    assert [m for m in checks.run_checks() if m.id == "redis_patterns.E009"] == []
    settings.REDIS_PATTERNS = {"LOCKS": {"USING": "legacy"}}  # now a pattern would read it
    assert [m.id for m in checks.run_checks() if m.id == "redis_patterns.E009"] == ["redis_patterns.E009"]
