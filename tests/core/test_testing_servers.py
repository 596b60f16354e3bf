"""The test-server helper (``django_redis_patterns.testing.servers``) that projects use too."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from django_redis_patterns.testing import servers


@pytest.mark.parametrize("taken", ["port", "cluster bus port"])
def test_a_first_start_whose_port_was_taken_moves_to_a_free_port(tmp_path: Path, taken: str) -> None:
    # free_port() checks a port, but another process can bind it (or a Cluster node's bus
    # port, port + 10000) before redis-server does. A first start then moves, instead of
    # failing the test that asked for a server.
    port = servers.free_port()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", port if taken == "port" else port + 10000))
    args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"] if taken != "port" else []
    server = servers.RedisServer(port=port, directory=tmp_path / "node", args=args, binary=servers.find_redis_server())
    try:
        server.start()
        assert server.port != port
        assert server.client().ping() is True
    finally:
        server.stop()
        blocker.close()


def test_a_server_that_has_answered_never_changes_port(tmp_path: Path) -> None:
    binary = servers.find_redis_server()
    server = servers.RedisServer(port=servers.free_port(), directory=tmp_path / "node", binary=binary)
    server.start()
    port = server.port
    server.stop()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", port))
    try:
        with pytest.raises(RuntimeError, match="Address already in use"):
            server.start()  # a restart must keep its address: clients and replicas know it
        assert server.port == port
    finally:
        server.stop()
        blocker.close()
