"""System checks for CACHES entries that use this backend."""

from __future__ import annotations

from typing import Any

from django_redis_patterns.cache.checks import check_cache_options


def _ids(settings: Any, config: dict[str, Any]) -> dict[str, str]:
    settings.CACHES = {**settings.CACHES, "checked": config}
    # Called directly: Django's own cache checks build every backend first, and a backend
    # that cannot be built raises ImproperlyConfigured (naming the option) right there.
    return {m.id: m.msg for m in check_cache_options() if m.id}


def test_a_valid_config_has_no_messages(settings: Any, topology: Any) -> None:
    assert _ids(settings, topology.cache_config(SERIALIZER="json", COMPRESSOR="zlib", IGNORE_EXCEPTIONS=True)) == {}


def test_bad_option_value_is_an_error_naming_alias_and_option(settings: Any, topology: Any) -> None:
    ids = _ids(settings, topology.cache_config(SERIALIZER="no.such.Path"))
    assert "redis_patterns.E050" in ids
    assert "'checked'" in ids["redis_patterns.E050"] and "SERIALIZER" in ids["redis_patterns.E050"]


def test_a_typo_in_options_is_a_warning_with_a_suggestion(settings: Any, topology: Any) -> None:
    ids = _ids(settings, topology.cache_config(IGNORE_EXCEPTION=True))
    assert "redis_patterns.W050" in ids and "IGNORE_EXCEPTION" in ids["redis_patterns.W050"]
    msgs = [m for m in check_cache_options() if m.id == "redis_patterns.W050"]
    assert "IGNORE_EXCEPTIONS" in (msgs[0].hint or "")


def test_hash_tag_prefix_on_cluster_is_a_warning(settings: Any, cluster: Any) -> None:
    config = {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": cluster.url, "KEY_PREFIX": "{site}"}
    assert "redis_patterns.W051" in _ids(settings, config)


def test_every_bad_backend_option_is_reported_in_one_run(settings: Any, topology: Any) -> None:
    config = topology.cache_config(SERIALIZER="no.such.Path", CLEAR="all", STAMPEDE="maybe", COMPRESSOR="zlib")
    settings.CACHES = {**settings.CACHES, "checked": config}
    errors = [m.msg for m in check_cache_options() if m.id == "redis_patterns.E050"]
    assert len(errors) == 3, errors
    assert all("CACHES['checked']" in e for e in errors)
    assert sum("OPTIONS['SERIALIZER']" in e for e in errors) == 1
    assert sum("OPTIONS['CLEAR']" in e for e in errors) == 1
    assert sum("OPTIONS['STAMPEDE']" in e for e in errors) == 1
