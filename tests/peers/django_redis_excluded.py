"""The tests of django-redis's own suite that do not pass against our backend, and why.

Keys are ``<file>::<class>::<test>`` as collected from django-redis's ``tests/`` (without the
settings-module parameter). ``test_django_redis_suite.py`` fails when any other test fails,
and when a test listed here is no longer collected; a listed test that passes is printed, so
it can be taken off. docs/cache.md ("Migrating from django-redis") is written from this list.
"""

from __future__ import annotations

#: django-redis's own classes and internals: no backend but django-redis's can pass these.
INTERNALS: dict[str, str] = {
    "test_backend.py::TestDjangoRedisCache::test_set_call_empty_pipeline": (
        "asserts the exact redis-py call DefaultClient makes (a mocked pipeline.set(key, value, nx=, px=, xx=)) "
        "through the client= argument"
    ),
    "test_backend.py::TestDjangoRedisCache::test_delete_pattern_with_custom_count": (
        "patches django_redis.cache.RedisCache.client and asserts the call made on the mock"
    ),
    "test_backend.py::TestDjangoRedisCache::test_delete_pattern_with_settings_default_scan_count": (
        "patches django_redis.cache.RedisCache.client and asserts the call made on the mock"
    ),
    "test_backend.py::TestDjangoRedisCache::test_close_with_signal_parameter": (
        "patches django_redis.cache.RedisCache.client and asserts the call made on the mock"
    ),
    "test_backend.py::TestDjangoRedisCache::test_primary_replica_switching": (
        "sets DefaultClient's private _server/_clients lists and reads them back through get_client()"
    ),
    "test_backend.py::TestDjangoRedisCache::test_primary_replica_switching_with_index": (
        "sets DefaultClient's private _server/_clients lists and calls DefaultClient.get_client_with_index()"
    ),
    "test_client.py::TestClientClose::test_close_client_disconnect_default": (
        "mocks DefaultClient.connection_factory.disconnect"
    ),
    "test_client.py::TestClientClose::test_close_disconnect_settings": (
        "mocks DefaultClient.connection_factory.disconnect"
    ),
    "test_client.py::TestClientClose::test_close_disconnect_settings_cache": (
        "mocks DefaultClient.connection_factory.disconnect"
    ),
    "test_client.py::TestClientClose::test_close_disconnect_client_options": (
        "mocks DefaultClient.connection_factory.disconnect"
    ),
}

#: Deliberate differences a migrating project may notice (each is in docs/cache.md).
DIFFERENCES: dict[str, str] = {
    "test_cache_options.py::test_custom_key_function": (
        "expects clear() to have flushed the db: a key another test wrote under KEY_PREFIX '*' survives, "
        "because clear() deletes only this cache's keyspace (OPTIONS['CLEAR'] = 'flushdb' flushes)"
    ),
}

EXCLUDED: dict[str, str] = {**INTERNALS, **DIFFERENCES}
