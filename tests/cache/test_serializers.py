"""Serializers, compressors, and reading/writing the same keys as django-redis and Django's backend."""

from __future__ import annotations

import datetime
import json
import pickle
from typing import Any

import pytest
from django.core.cache import caches
from django.core.checks import run_checks

from django_redis_patterns import get_redis
from django_redis_patterns.exceptions import ImproperlyConfigured
from tests.topologies import standalone_and_cluster

BIG = {"rows": [{"id": i, "name": f"player {i}", "score": i * 10} for i in range(200)]}
MAGIC = {"zlib": b"\x78", "zstd": b"\x28\xb5\x2f\xfd", "lz4": b"\x04\x22\x4d\x18"}


@pytest.mark.parametrize("serializer", ["pickle", "json", "msgpack"])
@pytest.mark.parametrize("compressor", ["none", "zlib", "zstd", "lz4"])
@standalone_and_cluster
async def test_round_trip(settings: Any, topology: Any, serializer: str, compressor: str) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": topology.cache_config(SERIALIZER=serializer, COMPRESSOR=compressor, COMPRESS_MIN_LENGTH=100),
    }
    cache = caches["default"]
    small = {"a": [1, 2], "s": "x"}
    cache.set("small", small)
    cache.set("big", BIG)
    await cache.aset("abig", BIG)
    cache.set("n", 7)
    assert cache.get("small") == small
    assert cache.get("big") == BIG
    assert await cache.aget("abig") == BIG
    assert cache.get_many(["small", "big", "n"]) == {"small": small, "big": BIG, "n": 7}
    assert cache.incr("n") == 8
    raw = get_redis()
    if compressor != "none":
        assert raw.get(":1:big").startswith(MAGIC[compressor])  # compressed above min_length
        assert not raw.get(":1:small").startswith(MAGIC[compressor])  # small values stay plain
        assert len(raw.get(":1:big")) < len(cache._codec.serializer.dumps(BIG)) / 2
    if serializer == "json":
        assert json.loads(raw.get(":1:small")) == small  # readable by any language


def test_json_is_lossy_and_pickle_is_not(settings: Any, topology: Any) -> None:
    value = {"when": datetime.datetime(2026, 1, 2, 3, 4, 5), "pair": (1, 2)}
    settings.CACHES = {**settings.CACHES, "json": {**topology.cache_config(SERIALIZER="json"), "KEY_PREFIX": "j"}}
    caches["default"].set("v", value)
    caches["json"].set("v", value)
    assert caches["default"].get("v") == value
    assert caches["json"].get("v") == {"when": "2026-01-02T03:04:05", "pair": [1, 2]}


def test_django_redis_serializer_and_compressor_classes_work(settings: Any, topology: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": topology.cache_config(
            SERIALIZER="django_redis.serializers.msgpack.MSGPackSerializer",
            COMPRESSOR="django_redis.compressors.zlib.ZlibCompressor",
        ),
    }
    cache = caches["default"]
    cache.set("big", BIG)
    cache.set("small", "x")
    assert cache.get("big") == BIG
    assert cache.get("small") == "x"  # below django-redis's min_length: stored uncompressed


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"SERIALIZER": "django_redis.serializers.json.JSONSerializer"},
        {
            "SERIALIZER": "django_redis.serializers.msgpack.MSGPackSerializer",
            "COMPRESSOR": "django_redis.compressors.lzma.LzmaCompressor",
        },
        {"COMPRESSOR": "django_redis.compressors.lz4.Lz4Compressor"},
        {"COMPRESSOR": "django_redis.compressors.zlib.ZlibCompressor"},
    ],
)
def test_a_django_redis_site_migrates_by_changing_backend(
    settings: Any, topology: Any, options: dict[str, Any]
) -> None:
    """Same LOCATION and OPTIONS: each backend reads what the other wrote."""
    settings.CACHES = {
        **settings.CACHES,
        "django_redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": topology.url, "OPTIONS": options},
        "ours": {**topology.cache_config(**options)},
    }
    theirs, ours = caches["django_redis"], caches["ours"]
    theirs.set("from-them", BIG, 60)
    theirs.set("count", 5, 60)
    ours.set("from-us", BIG, 60)
    assert ours.get("from-them") == BIG
    assert ours.incr("count") == 6
    assert theirs.get("from-us") == BIG
    assert theirs.get("count") == 6


def test_djangos_builtin_backend_and_ours_share_values(settings: Any, topology: Any) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "builtin": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": topology.url},
    }
    caches["builtin"].set("page", {"html": "<p>hi</p>"}, 60)
    caches["builtin"].set("hits", 1, 60)
    assert caches["default"].get("page") == {"html": "<p>hi</p>"}
    assert caches["default"].incr("hits") == 2
    caches["default"].set("back", [1, 2, 3])
    assert caches["builtin"].get("back") == [1, 2, 3]
    assert pickle.loads(get_redis().get(":1:back")) == [1, 2, 3]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"SERIALIZER": "no.such.Serializer"}, "SERIALIZER"),
        ({"COMPRESSOR": "gzip-please"}, "COMPRESSOR"),
        ({"CLEAR": "everything"}, "CLEAR"),
        ({"STAMPEDE": "maybe"}, "STAMPEDE"),
        ({"STAMPEDE_BETA": 0}, "STAMPEDE_BETA"),
        ({"COMPRESSOR": "zlib", "COMPRESS_MIN_LENGTH": -1}, "COMPRESS_MIN_LENGTH"),
        ({"PICKLE_VERSION": 99}, "PICKLE_VERSION"),
    ],
)
def test_bad_options_name_the_option(settings: Any, topology: Any, options: dict[str, Any], named: str) -> None:
    settings.CACHES = {**settings.CACHES, "bad": topology.cache_config(**options)}
    # Reported at startup by the system check (manage.py check, runserver) ...
    errors = [m for m in run_checks() if m.id == "redis_patterns.E050"]
    assert len(errors) == 1 and named in errors[0].msg and "'bad'" in errors[0].msg
    # ... and on first use, rather than when Django builds the cache (its own checks do that).
    with pytest.raises(ImproperlyConfigured, match=named):
        caches["bad"].get("k")


# -- SignedSerializer: who can write to Redis cannot make a worker unpickle their bytes ------------


def _signed(settings: Any, topology: Any, **options: Any) -> Any:
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(SERIALIZER="signed", **options)}
    return caches["default"]


@pytest.mark.parametrize("inner", ["pickle", "json", "msgpack"])
@standalone_and_cluster
async def test_signed_serializer_round_trips_every_inner_serializer(settings: Any, topology: Any, inner: str) -> None:
    cache = _signed(settings, topology, SIGNED_SERIALIZER=inner)
    small = {"a": [1, 2], "s": "x"}
    cache.set("small", small)
    await cache.aset("abig", BIG)
    cache.set("n", 7)
    assert cache.get("small") == small
    assert await cache.aget("abig") == BIG
    assert cache.get_many(["small", "abig", "n"]) == {"small": small, "abig": BIG, "n": 7}
    assert cache.incr("n") == 8  # integers stay raw digits (INCRBY), as with every serializer
    assert get_redis().get(":1:small").startswith(b"drpS1")


def test_the_gadget_runs_when_unpickled(tmp_path: Any) -> None:
    """The planted value of the tests below really runs code when the default serializer reads it."""
    from tests.gadgets import code_executing_pickle

    marker = tmp_path / "ran"
    pickle.loads(code_executing_pickle(marker))
    assert marker.exists()


@standalone_and_cluster
async def test_a_planted_pickle_is_never_unpickled_under_the_signed_serializer(
    settings: Any, topology: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_redis_patterns.cache import backend
    from tests.gadgets import code_executing_pickle

    monkeypatch.setattr(backend, "_tampered_aliases", set())  # "once per process": this test's process
    cache = _signed(settings, topology)
    marker = tmp_path / "ran"
    cache.set("kept", "mine")
    raw = get_redis()
    gadget = code_executing_pickle(marker)
    signed_elsewhere = cache._codec.serializer.dumps("x")  # a valid record, moved to another key below
    raw.set(":1:planted", gadget)
    raw.set(":1:forged", b"drpS1" + b"A" * 43 + gadget)  # looks signed, is not
    with caplog.at_level("WARNING", logger="django_redis_patterns.cache"):
        assert cache.get("planted", "miss") == "miss"
        assert cache.get("forged", "miss") == "miss"
        assert await cache.aget("planted", "miss") == "miss"
        assert cache.get_many(["planted", "kept", "forged"]) == {"kept": "mine"}
        assert await cache.aget_many(["planted", "kept"]) == {"kept": "mine"}
        from django_redis_patterns.cache.codec import Codec

        raw.set(":1:hot", Codec.wrap(gadget, 5))  # as get_or_set(stampede=...) stores values
        assert cache.get_or_set("hot", lambda: "computed") == "computed"  # refused, recomputed, stored
        assert cache.get_or_set("hot", lambda: "again") == "computed"
        raw.set(":1:hot", gadget)
        assert await cache.aget_or_set("hot", lambda: "async") == "async"
    assert not marker.exists()  # nothing ran
    assert len([r for r in caplog.records if "treated as a miss" in r.getMessage()]) == 1  # logged once
    raw.set(":1:moved", signed_elsewhere)
    assert cache.get("moved") == "x"  # a value signed here reads back under any key of this alias


def test_signed_values_survive_a_key_rotation_through_secret_key_fallbacks(settings: Any, topology: Any) -> None:
    cache = _signed(settings, topology)
    cache.set("profile", {"name": "alice"})
    old = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key-" + "x" * 40, [old]
    assert cache.get("profile") == {"name": "alice"}  # signed with the old key, still accepted
    cache.set("new", 1.5)
    settings.SECRET_KEY_FALLBACKS = []
    assert cache.get("profile", "miss") == "miss"  # the old key retired: its values are refused
    assert cache.get("new") == 1.5


def test_signed_serializer_options_are_checked(settings: Any, topology: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="SIGNED_SERIALIZER"):
        _signed(settings, topology, SIGNED_SERIALIZER="signed").get("x")
    with pytest.raises(ImproperlyConfigured, match="SIGNING_SALT"):
        _signed(settings, topology, SIGNING_SALT=3).get("x")
    settings.CACHES = {**settings.CACHES, "default": topology.cache_config(SIGNED_SERIALIZER="json")}
    with pytest.raises(ImproperlyConfigured, match="only applies to SERIALIZER 'signed'"):
        caches["default"].get("x")  # an option we cannot honour is an error, never ignored
    assert "redis_patterns.E050" in {m.id for m in run_checks()}
    a = _signed(settings, topology, SIGNING_SALT="a")
    a.set("k", "v")
    assert _signed(settings, topology, SIGNING_SALT="b").get("k", "miss") == "miss"  # salts keep aliases apart
