"""The instrumentation point: every command, pipeline and script of every client kind, once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from django_redis_patterns.client import connections, instrument, scripts
from django_redis_patterns.client.instrument import listening
from tests.topologies import all_topologies

from .recorder import Recorder

PING = scripts.Script("obs_test", source="-- KEYS[1] a key\n-- ARGV[1] a value\n-- reply the value\nreturn ARGV[1]\n")


def _lean(settings: Any, lean: bool) -> None:
    default = dict(settings.CACHES["default"])
    default["OPTIONS"] = {**default.get("OPTIONS", {}), "LEAN_CLIENT": lean}
    settings.CACHES = {**settings.CACHES, "default": default}
    connections.reset()


@all_topologies
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "plain"])
def test_every_sync_command_pipeline_and_script_is_seen_once(topology: Any, settings: Any, lean: bool) -> None:
    _lean(settings, lean)
    client = connections.get_redis("default")
    client.set("{obs}warm", "1")  # the first command of a Cluster client discovers the slots
    PING(client, ["{obs}k"], ["x"])  # loaded on the server: one EVALSHA below
    with listening(Recorder()) as rec:
        client.set("{obs}a", "1")
        assert client.get("{obs}a") == b"1"
        pipe = client.pipeline(transaction=False)
        pipe.incr("{obs}n")
        pipe.get("{obs}n")
        assert pipe.execute() == [1, b"1"]
        assert PING(client, ["{obs}k"], ["x"]) == b"x"
    assert rec.names() == ["SET", "GET", "PIPELINE", "EVALSHA"]
    assert [c.key for c in rec.commands[:2]] == ["{obs}a", "{obs}a"]
    assert rec.commands[2].commands == ("INCRBY", "GET")
    assert rec.commands[-1].key == "{obs}k"
    assert {c.alias for c in rec.commands} == {"default"}
    assert all(c.error is None and c.end_ns >= c.start_ns and not c.is_async for c in rec.commands)
    if topology.kind == "cluster":
        assert all(c.node != "cluster" for c in rec.commands if c.commands is None)
    elif topology.kind == "sentinel":
        assert {c.node for c in rec.commands} == {f"sentinel:{topology.group.service}"}
    else:
        assert {c.node for c in rec.commands} == {f"127.0.0.1:{topology.group.primary.port}"}
    # Nothing listens any more: nothing is recorded.
    client.get("{obs}a")
    assert len(rec.commands) == 4


@all_topologies
@pytest.mark.parametrize("lean", [True, False], ids=["lean", "plain"])
def test_every_async_command_and_pipeline_is_seen_once(topology: Any, settings: Any, lean: bool) -> None:
    _lean(settings, lean)

    async def run() -> Recorder:
        client = await connections.aget_redis("default")
        await client.set("{obs}warm", "1")
        with listening(Recorder()) as rec:
            await client.set("{obs}a", "1")
            assert await client.get("{obs}a") == b"1"
            pipe = client.pipeline(transaction=False)
            pipe.incr("{obs}n")
            pipe.get("{obs}n")
            assert await pipe.execute() == [1, b"1"]
        return rec

    rec = asyncio.run(run())
    assert rec.names() == ["SET", "GET", "PIPELINE"]
    assert rec.commands[2].commands == ("INCRBY", "GET")
    assert all(c.is_async and c.alias == "default" for c in rec.commands)


def test_a_failed_command_is_reported_with_its_error(topology: Any) -> None:
    client = connections.get_redis("default")
    client.set("s", "text")
    with listening(Recorder()) as rec, pytest.raises(Exception, match="WRONGTYPE"):
        client.lpush("s", "x")
    assert rec.names() == ["LPUSH"]
    assert "WRONGTYPE" in str(rec.commands[0].error)


def test_commands_inside_an_operation_carry_its_pattern_and_alias(topology: Any) -> None:
    client = connections.get_redis("default")
    with listening(Recorder()) as rec:
        with instrument.operation("locks", "acquire", alias="default", name="x") as op:
            client.get("k")
            op.set(acquired=True)
        client.get("k")
    assert [(c.pattern, c.operation) for c in rec.commands] == [("locks", "acquire"), (None, None)]
    assert rec.operations[0].attrs == {"name": "x", "acquired": True}


def test_no_listener_means_no_operation_object_and_a_broken_listener_never_breaks_a_command(topology: Any) -> None:
    assert instrument.operation("cache", "get", alias="default") is instrument.NO_OPERATION

    class Broken(instrument.Listener):
        def command(self, event: instrument.CommandEvent) -> None:
            raise RuntimeError("listener bug")

    client = connections.get_redis("default")
    client.set("k", "v")
    with listening(Broken()):
        assert client.get("k") == b"v"


def test_add_listener_names_a_wrong_argument() -> None:
    with pytest.raises(TypeError, match="listener must be"):
        instrument.add_listener(print)  # type: ignore[arg-type]


@pytest.mark.parametrize("lean", [True, False], ids=["lean", "plain"])
def test_with_nothing_listening_no_hook_is_on_the_client(topology: Any, settings: Any, lean: bool) -> None:
    _lean(settings, lean)
    client = connections.get_redis("default")
    before = dict(client.__dict__)  # the plain client carries the circuit breaker's wrappers
    assert "execute_command" not in before if lean else before["execute_command"].__name__ == "sexecute"
    with listening(Recorder()) as rec:
        assert client.__dict__["execute_command"] is not before.get("execute_command")
        client.get("k")
    assert rec.names() == ["GET"]
    assert {k: client.__dict__.get(k) for k in ("execute_command", "pipeline")} == {
        k: before.get(k) for k in ("execute_command", "pipeline")
    }
