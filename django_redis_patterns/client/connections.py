"""Cache alias -> ready redis-py client, for every topology, sync and asyncio.

This is the only module that builds Redis clients. Everything else asks it with a cache
alias (``get_redis("default")``) or, for a cache backend that Django builds without
telling it its alias, with the backend's ``LOCATION`` and ``OPTIONS``
(:func:`client_for_config`).

Topology comes from the URL scheme:

``redis://``, ``rediss://``, ``unix://``
    standalone; a list (or a ``,``/``;`` separated string) is primary first, replicas after.
``redis+sentinel://[user:pass@]h1:26379,h2:26379/<service>/<db>``
    Sentinel; the URL's credentials are the data nodes'; the Sentinels' own credentials
    come from ``OPTIONS["SENTINEL_USERNAME"/"SENTINEL_PASSWORD"]`` (or query parameters
    ``sentinel_username``/``sentinel_password``). ``rediss+sentinel://`` for TLS.
``redis+cluster://[user:pass@]h1:7000,h2:7001``
    Redis Cluster; ``?read_from_replicas=true`` or ``OPTIONS["READ_FROM_REPLICAS"]``.
    ``rediss+cluster://`` for TLS.

Clients are built once per configuration under a lock and shared by every thread
(redis-py pools are thread-safe). Async clients are per running event loop, because a
``redis.asyncio`` connection belongs to the loop that opened it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import threading
import weakref
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from django.conf import settings
from django.core.signals import setting_changed
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import EqualJitterBackoff
from redis.retry import Retry

from .. import conf
from ..exceptions import ImproperlyConfigured, InvalidDatabase, InvalidOptions
from . import breaker as breakers
from . import compat, django_redis_options, instrument, spin

Topology = Literal["standalone", "sentinel", "cluster"]
#: What :func:`get_redis` returns: standalone and Sentinel give ``redis.Redis`` (a lean
#: subclass unless ``OPTIONS["LEAN_CLIENT"]`` is False), Cluster gives ``RedisCluster``.
SyncClient = redis.Redis | redis.cluster.RedisCluster
#: What :func:`aget_redis` returns: the ``redis.asyncio`` twins.
AsyncClient = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster

#: Backends whose aliases this module understands, and the OPTIONS dialect they speak.
OUR_BACKEND = "django_redis_patterns.cache.RedisCache"
BACKEND_DIALECTS: dict[str, str] = {
    OUR_BACKEND: "upper",
    "django_redis_patterns.cache.backend.RedisCache": "upper",
    "django_redis.cache.RedisCache": "upper",
    "django.core.cache.backends.redis.RedisCache": "lower",
}

#: Redis backends that are not this package's: their aliases are read (get_redis()) only when used.
FOREIGN_BACKENDS = frozenset({"django_redis.cache.RedisCache", "django.core.cache.backends.redis.RedisCache"})

# Chosen for a web request: a refused or black-holed server must fail well inside a
# request's budget. One retry after a short jittered pause covers a dropped idle
# connection or a failover's first refused connect; more retries only turn an outage
# into a pile-up of slow requests.
DEFAULT_SOCKET_CONNECT_TIMEOUT = 1.0
DEFAULT_SOCKET_TIMEOUT = 2.0
DEFAULT_RETRIES = 1
DEFAULT_HEALTH_CHECK_INTERVAL = 30
# redis-py 8 caps a pool at 100 connections and then *raises*; an asyncio.gather of a few
# hundred calls (or a busy threaded server) would fail. Connections are opened lazily, so
# a higher cap costs nothing until it is used. OPTIONS["MAX_CONNECTIONS"] overrides it.
DEFAULT_MAX_CONNECTIONS = 1000

_SCHEMES_SINGLE = ("redis", "rediss", "unix")
#: ``fakeredis://<name>``: an in-process fakeredis server (see django_redis_patterns.testing).
_SCHEME_FAKE = "fakeredis"
_SCHEME_SENTINEL = ("redis+sentinel", "rediss+sentinel")
_SCHEME_CLUSTER = ("redis+cluster", "rediss+cluster")

# OPTIONS keys (django-redis dialect) that concern serialisation or behaviour, not the
# connection: accepted and ignored here.
_NON_CONNECTION_OPTIONS = {
    "SERIALIZER",
    "COMPRESSOR",
    "COMPRESS_MIN_LENGTH",
    "IGNORE_EXCEPTIONS",
    "LOG_IGNORED_EXCEPTIONS",
    "CLIENT_CLASS",
    "CONNECTION_POOL_CLASS",
    "CONNECTION_POOL_CLASS_KWARGS",
    "PARSER_CLASS",
    "PICKLE_VERSION",
    "CLOSE_CONNECTION",
    "CLEAR",
    "REDIS_CLIENT_CLASS",
    "REDIS_CLIENT_KWARGS",
    "CONNECTION_FACTORY",
    "SENTINELS",
    "SENTINEL_KWARGS",
    "STAMPEDE",
    "STAMPEDE_BETA",
    "STAMPEDE_LOCK_TIMEOUT",
    "REPLICA_READ_ONLY",
    "COMPRESS_LEVEL",
    "REVERSE_KEY_FUNCTION",
    "ASYNC_BATCHING",
    "NEAR_CACHE",
}
#: OPTIONS keys this module reads besides the connection's own (the ``lower`` dialect of
#: Django's built-in backend cannot carry them: its OPTIONS all go to the pool).
OPTION_COOLDOWN = "CIRCUIT_BREAKER_COOLDOWN"
# Lower-case OPTIONS of Django's built-in backend that are not pool kwargs.
_LOWER_NON_POOL = {"serializer", "pool_class", "parser_class", "db"}


@dataclasses.dataclass(frozen=True)
class ConnectionSpec:
    """Everything needed to build a client; hashable so it can key the registry."""

    topology: Topology
    #: standalone: URLs (primary first); sentinel: "host:port" of Sentinels; cluster: startup nodes.
    nodes: tuple[str, ...]
    service: str | None = None
    #: None: the URL's own db (standalone) or 0.
    db: int | None = None
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None
    ssl: bool = False
    read_from_replicas: bool = False
    socket_timeout: float | None = DEFAULT_SOCKET_TIMEOUT
    socket_connect_timeout: float | None = DEFAULT_SOCKET_CONNECT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    #: Extra keyword arguments for every connection (ssl_*, max_connections, ...).
    extra: tuple[tuple[str, Any], ...] = ()
    #: An in-process fakeredis server instead of a real one (tests of projects using us).
    fake: bool = False
    #: Lean clients (OPTIONS["LEAN_CLIENT"]): :class:`~.leanclient.LeanRedis` (standalone/Sentinel),
    #: :class:`~.leancluster.LeanRedisCluster` (Cluster), :class:`~.leanasync.LeanAsyncRedis` (asyncio
    #: standalone/Sentinel), :class:`~.leanasynccluster.LeanAsyncRedisCluster` (asyncio Cluster).
    lean: bool = True
    #: Seconds an open circuit fails fast before one call probes (:mod:`.breaker`); 0: no breaker.
    #: From OPTIONS["CIRCUIT_BREAKER_COOLDOWN"], else REDIS_PATTERNS["CIRCUIT_BREAKER_COOLDOWN"].
    breaker_cooldown: float = breakers.DEFAULT_COOLDOWN
    #: Microseconds a lean client polls for a reply before its blocking read (:mod:`.spin`);
    #: 0: never. From OPTIONS["SPIN_WAIT_US"].
    spin_wait_us: int = spin.DEFAULT_SPIN_WAIT_US

    def __hash__(self) -> int:
        # Computed once: every command looks its client up by spec, and hashing a dozen
        # fields (some tuples) on each lookup showed up in profiles of a cache hit.
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __repr__(self) -> str:  # never print a password
        return (
            f"ConnectionSpec(topology={self.topology!r}, nodes={self.display_nodes()!r}, "
            f"service={self.service!r}, db={self.db})"
        )

    def display_nodes(self) -> tuple[str, ...]:
        return tuple(_strip_password(n) for n in self.nodes)

    @property
    def kwargs(self) -> dict[str, Any]:
        """Connection keyword arguments shared by every topology."""
        kw: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_connect_timeout,
            "health_check_interval": DEFAULT_HEALTH_CHECK_INTERVAL,
            "max_connections": DEFAULT_MAX_CONNECTIONS,
        }
        if self.username is not None:
            kw["username"] = self.username
        if self.password is not None:
            kw["password"] = self.password
        kw.update(dict(self.extra))
        return kw


def _strip_password(url: str) -> str:
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _split_hosts(netloc_hosts: str, scheme: str, argument: str) -> tuple[str, ...]:
    hosts = tuple(h.strip() for h in netloc_hosts.split(",") if h.strip())
    if not hosts:
        raise ImproperlyConfigured(f"{argument}: {scheme}:// URL names no host")
    for h in hosts:
        host, sep, port = h.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ImproperlyConfigured(f"{argument}: {h!r} in a {scheme}:// URL is not host:port")
    return hosts


def _locations(location: Any, argument: str) -> list[str]:
    if isinstance(location, str):
        if location.split("://", 1)[0] in _SCHEME_SENTINEL + _SCHEME_CLUSTER:
            return [location]
        # Django's built-in backend splits a string on ',' and ';' the same way.
        return [p.strip() for p in re.split("[;,]", location) if p.strip()]
    if isinstance(location, list | tuple) and all(isinstance(x, str) for x in location):
        return list(location)
    raise ImproperlyConfigured(f"{argument} must be a URL string or a list of URLs, got {location!r}")


def parse(
    location: Any, options: Mapping[str, Any] | None = None, *, dialect: str = "upper", argument: str = "LOCATION"
) -> ConnectionSpec:
    """Parse a cache LOCATION + OPTIONS into a :class:`ConnectionSpec`.

    ``dialect="upper"`` reads this package's and django-redis's OPTIONS (``PASSWORD``,
    ``SOCKET_TIMEOUT``, ``CONNECTION_POOL_KWARGS``...); ``"lower"`` reads Django's
    built-in backend, whose OPTIONS are pool keyword arguments. Raises
    :class:`ImproperlyConfigured` naming ``argument`` on any malformed input.
    """
    options = dict(options or {})
    if dialect == "upper":
        location, options = django_redis_options.translate(location, options, argument)
    urls = _locations(location, argument)
    if not urls:
        raise ImproperlyConfigured(f"{argument} is empty")
    first = urls[0]
    scheme = first.split("://", 1)[0].lower() if "://" in first else ""
    if not scheme:
        raise ImproperlyConfigured(
            f"{argument}: {_strip_password(first)!r} is not a URL (expected redis://, rediss://, "
            "unix://, redis+sentinel:// or redis+cluster://)"
        )
    common, extra = read_options(options, dialect=dialect)
    if "breaker_cooldown" not in common:
        common["breaker_cooldown"] = conf.core().CIRCUIT_BREAKER_COOLDOWN

    if scheme == _SCHEME_FAKE:
        return ConnectionSpec(topology="standalone", nodes=(first,), fake=True, **common)

    if scheme in _SCHEMES_SINGLE:
        for u in urls:
            s = u.split("://", 1)[0].lower() if "://" in u else ""
            if s not in _SCHEMES_SINGLE:
                raise ImproperlyConfigured(
                    f"{argument}: {_strip_password(u)!r} cannot be mixed with other URLs; replicas "
                    "must be redis://, rediss:// or unix:// URLs"
                )
            _check_url_db(u, argument)
            try:
                redis.connection.parse_url(u)
            except ValueError as exc:
                raise ImproperlyConfigured(f"{argument}: {_strip_password(u)!r} is malformed: {exc}")
            _check_url_port(u, argument)
        return ConnectionSpec(topology="standalone", nodes=tuple(urls), extra=tuple(sorted(extra.items())), **common)

    if len(urls) != 1:
        raise ImproperlyConfigured(f"{argument}: a {scheme}:// URL must be the only location")
    parts = urlsplit(first)
    netloc = parts.netloc
    userinfo, _, hostlist = netloc.rpartition("@")
    hosts = _split_hosts(hostlist, scheme, argument)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if userinfo:
        user, sep, pw = userinfo.partition(":")
        if user:
            common.setdefault("username", unquote(user))
        if sep:
            common.setdefault("password", unquote(pw))
    for qkey in ("sentinel_username", "sentinel_password"):
        if qkey in query:
            common.setdefault(qkey, query.pop(qkey))
    if "read_from_replicas" in query:
        common.setdefault("read_from_replicas", _as_bool(query.pop("read_from_replicas")))
    for qkey in list(query):
        if qkey.startswith("ssl_"):
            extra[qkey] = query.pop(qkey)
    if query:
        raise ImproperlyConfigured(f"{argument}: unknown URL parameter(s) {', '.join(sorted(query))}")
    ssl = scheme.startswith("rediss")
    path = [p for p in parts.path.split("/") if p]

    if scheme in _SCHEME_SENTINEL:
        if not path:
            raise ImproperlyConfigured(
                f"{argument}: a {scheme}:// URL needs the service name: {scheme}://h1:26379,h2:26379/<service>/<db>"
            )
        db = 0
        if len(path) > 1:
            if not path[1].isdigit() or len(path) > 2:
                raise InvalidDatabase(
                    f"{argument}: the db {'/'.join(path[1:])!r} in {scheme}://.../<service>/<db> must be "
                    "a database number (an integer >= 0)"
                )
            db = int(path[1])
        return ConnectionSpec(
            topology="sentinel",
            nodes=hosts,
            service=unquote(path[0]),
            db=int(common.pop("db", db)),
            ssl=ssl,
            extra=tuple(sorted(extra.items())),
            **common,
        )

    if scheme in _SCHEME_CLUSTER:
        if path and path != ["0"]:
            raise InvalidDatabase(f"{argument}: Redis Cluster has only db 0, got /{'/'.join(path)}")
        common.pop("db", None)
        return ConnectionSpec(topology="cluster", nodes=hosts, ssl=ssl, extra=tuple(sorted(extra.items())), **common)

    raise ImproperlyConfigured(
        f"{argument}: unsupported scheme {scheme!r} (expected redis://, rediss://, unix://, "
        "redis+sentinel:// or redis+cluster://)"
    )


def _check_url_port(url: str, argument: str) -> None:
    """A redis:// or rediss:// URL must name its port.

    redis-py would read a missing one as 6379, which hides a mistake such as a Sentinel
    service name written where a host belongs (``redis://mymaster/0``) until the first command.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("redis", "rediss"):
        return
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{argument}: {_strip_password(url)!r} has an invalid port")
    if port is None:
        raise ImproperlyConfigured(
            f"{argument}: {_strip_password(url)!r} names no port; write it out "
            f"(e.g. {parts.scheme}://{parts.hostname or 'host'}:6379/0). For Sentinel use "
            "redis+sentinel://h1:26379,h2:26379/<service>/<db>"
        )


def _check_url_db(url: str, argument: str) -> None:
    """Reject a db that redis-py would quietly read as 0 (``/abc``) or send to a server that refuses it (``/-1``).

    redis-py takes ``?db=`` first, else the path with every ``/`` removed (``/1/2`` is db 12).
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "db" in query:
        text, part = query["db"][-1], "?db="
    elif parts.scheme.lower() in ("redis", "rediss") and parts.path.strip("/"):
        text, part = unquote(parts.path)[1:].removesuffix("/"), "path"
    else:
        return
    if not text.isdigit():
        raise InvalidDatabase(
            f"{argument}: {_strip_password(url)!r} names db {text!r} in its {part}; the db must be a "
            "database number (an integer >= 0, e.g. redis://host:6379/0)"
        )


#: Upper-case OPTIONS copied as they are into a :class:`ConnectionSpec` field (checked after).
_UPPER_FIELDS = {
    "PASSWORD": "password",
    "USERNAME": "username",
    "SOCKET_TIMEOUT": "socket_timeout",
    "SOCKET_CONNECT_TIMEOUT": "socket_connect_timeout",
    "RETRIES": "retries",
    "SENTINEL_USERNAME": "sentinel_username",
    "SENTINEL_PASSWORD": "sentinel_password",
}


def read_options(options: Mapping[str, Any], *, dialect: str = "upper") -> tuple[dict[str, Any], dict[str, Any]]:
    """Split cache OPTIONS into (:class:`ConnectionSpec` fields, extra connection kwargs).

    Every invalid option is collected, so one :class:`InvalidOptions` names them all
    (a user fixes a settings file in one pass, not one error per run).
    """
    extra: dict[str, Any] = {}
    common: dict[str, Any] = {}
    #: ConnectionSpec field -> the option it came from, for error messages.
    source: dict[str, str] = {}
    problems: list[tuple[str, str]] = []

    def put(field: str, value: Any, where: str) -> None:
        common[field] = value
        source[field] = where

    if dialect == "upper":
        for key, value in options.items():
            where = f"OPTIONS[{key!r}]"
            if key in _UPPER_FIELDS:
                put(_UPPER_FIELDS[key], value, where)
            elif key == "READ_FROM_REPLICAS":
                put("read_from_replicas", _as_bool(value), where)
            elif key == "LEAN_CLIENT":
                if not isinstance(value, bool):
                    problems.append((key, f"{where} must be True or False, got {value!r}"))
                else:
                    put("lean", value, where)
            elif key == "SPIN_WAIT_US":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= spin.MAX_SPIN_WAIT_US:
                    problems.append(
                        (key, f"{where} must be an int from 0 to {spin.MAX_SPIN_WAIT_US} (microseconds), got {value!r}")
                    )
                else:
                    put("spin_wait_us", value, where)
            elif key == "MAX_CONNECTIONS":
                if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                    problems.append((key, f"{where} must be an int >= 1, got {value!r}"))
                else:
                    extra["max_connections"] = value
            elif key == OPTION_COOLDOWN:
                try:
                    put("breaker_cooldown", breakers.cooldown_seconds(value, where), where)
                except ImproperlyConfigured as exc:
                    problems.append((key, str(exc)))
            elif key.startswith("SSL_"):
                extra[key.lower()] = value
            elif key == "CONNECTION_POOL_KWARGS":
                if not isinstance(value, dict):
                    problems.append((key, f"{where} must be a dict, got {value!r}"))
                    continue
                for k, v in value.items():
                    if k in ("socket_timeout", "socket_connect_timeout", "username", "password"):
                        put(k, v, f"{where}[{k!r}]")
                    else:
                        extra[k] = v
            elif key in _NON_CONNECTION_OPTIONS or not key.isupper():
                continue
            # Unknown upper-case keys belong to whichever backend reads them (checked there).
    else:
        for key, value in options.items():
            where = f"OPTIONS[{key!r}]"
            if key in _LOWER_NON_POOL:
                if key == "db":
                    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                        problems.append((key, f"{where} must be a database number (an int >= 0), got {value!r}"))
                    else:
                        put("db", value, where)
                continue
            if key in ("socket_timeout", "socket_connect_timeout", "username", "password"):
                put(key, value, where)
            else:
                extra[key] = value

    for name in ("socket_timeout", "socket_connect_timeout"):
        if name in common and common[name] is not None:
            where = source[name]
            try:
                seconds = float(common[name])
            except (TypeError, ValueError):
                problems.append((name.upper(), f"{where} must be a number of seconds, got {common[name]!r}"))
                del common[name]
                continue
            if seconds <= 0:
                problems.append((name.upper(), f"{where} must be > 0, got {common[name]!r}"))
                del common[name]
                continue
            common[name] = seconds
    if "retries" in common and (
        isinstance(common["retries"], bool) or not isinstance(common["retries"], int) or common["retries"] < 0
    ):
        problems.append(("RETRIES", f"{source['retries']} must be an int >= 0, got {common['retries']!r}"))
    if problems:
        raise InvalidOptions(problems)
    return common, extra


def cache_config(alias: str) -> dict[str, Any]:
    """The ``CACHES`` entry of a Redis alias; clear errors for unknown or non-Redis aliases."""
    caches = getattr(settings, "CACHES", {}) or {}
    if alias not in caches:
        known = ", ".join(sorted(caches)) or "none"
        raise ImproperlyConfigured(f"cache alias {alias!r} is not in CACHES (known aliases: {known})")
    config = caches[alias]
    backend = config.get("BACKEND", "")
    if dialect_of(backend) is None:
        raise ImproperlyConfigured(
            f"cache alias {alias!r} uses {backend!r}, which is not a Redis backend; use "
            f"{OUR_BACKEND!r}, 'django_redis.cache.RedisCache' or Django's "
            "'django.core.cache.backends.redis.RedisCache'"
        )
    return config  # type: ignore[no-any-return]


def dialect_of(backend: str) -> str | None:
    """The OPTIONS dialect a cache backend speaks ("upper" or "lower"), None when not Redis.

    Known paths are looked up; any other class is asked for its ``redis_options_dialect``
    attribute, which this package's ``RedisCache`` (and so every subclass) declares. This layer
    thus recognises the cache backend without importing it.
    """
    dialect = BACKEND_DIALECTS.get(backend)
    if dialect is not None or not backend or "." not in backend:
        return dialect
    try:
        from django.utils.module_loading import import_string

        cls = import_string(backend)
    except Exception:
        return None
    dialect = getattr(cls, "redis_options_dialect", None) if isinstance(cls, type) else None
    return dialect if dialect in ("upper", "lower") else None


def spec_for_alias(alias: str) -> ConnectionSpec:
    spec = _alias_specs.get(alias)
    if spec is None:
        config = cache_config(alias)
        dialect = dialect_of(config["BACKEND"]) or "upper"
        spec = parse(
            config.get("LOCATION", ""),
            config.get("OPTIONS") or {},
            dialect=dialect,
            argument=f"CACHES[{alias!r}]['LOCATION']",
        )
        _alias_specs[alias] = spec
    return spec


# ---------------------------------------------------------------------------------------
# Building clients
# ---------------------------------------------------------------------------------------


def _host_port(node: str) -> tuple[str, int]:
    host, _, port = node.rpartition(":")
    return host.strip("[]"), int(port)


_lock = threading.RLock()
_fake_servers: dict[str, Any] = {}


def _fake_server(spec: ConnectionSpec) -> tuple[Any, int]:
    """(shared FakeServer named by the URL's host, db from its path): fakeredis://name/db."""
    import fakeredis

    parts = urlsplit(spec.nodes[0])
    path = parts.path.strip("/")
    with _lock:
        if parts.netloc not in _fake_servers:
            _fake_servers[parts.netloc] = fakeredis.FakeServer()
        return _fake_servers[parts.netloc], int(path) if path.isdigit() else 0


def _handshake_only(conn: Any) -> None:
    # A new connection's handshake (HELLO/AUTH/CLIENT SETINFO/SELECT) already proves the server
    # answers. redis-py would first PING it as a health check (a new connection is "due"), with
    # a retry of its own inside the connect retry: against a server that accepts connections
    # but never answers, that doubled the time to give up (4 socket timeouts instead of 2).
    # redis-py < 5.2 has no way to skip that check but to say it is not due yet (the handshake's
    # first reply sets the next one as usual); without it, a silent server sent its handshake
    # into a PING -> reconnect -> handshake -> PING recursion.
    try:
        if hasattr(conn, "on_connect_check_health"):
            conn.on_connect_check_health(check_health=False)
        else:
            conn.next_health_check = float("inf")
            conn.on_connect()
    except redis.exceptions.ResponseError as exc:
        _explain_select_error(conn, exc)
        raise


async def _ahandshake_only(conn: Any) -> None:
    try:
        if hasattr(conn, "on_connect_check_health"):
            await conn.on_connect_check_health(check_health=False)
        else:  # redis-py < 5.2 (see _handshake_only)
            conn.next_health_check = float("inf")
            await conn.on_connect()
    except redis.exceptions.ResponseError as exc:
        _explain_select_error(conn, exc)
        raise


def _explain_select_error(conn: Any, exc: redis.exceptions.ResponseError) -> None:
    """A db the server lacks fails SELECT with a bare "DB index is out of range": say which db and where."""
    if "DB index is out of range" not in str(exc):
        return
    where = f"{conn.host}:{conn.port}" if getattr(conn, "host", None) else getattr(conn, "path", "?")
    raise type(exc)(
        f"SELECT {conn.db} failed on {where}: DB index is out of range (the server has fewer databases, "
        "see its 'databases' setting); fix the db in the cache LOCATION"
    ) from exc


@dataclasses.dataclass(frozen=True)
class _Flavor:
    """The redis-py classes of one I/O model; the building logic is shared."""

    parse_url: Any
    pool: Any
    client: Any
    sentinel: Any
    cluster: Any
    cluster_node: Any
    retry: Any
    fake: str
    connection: Any
    on_connect: Any
    #: The lean client kinds (see :mod:`.compat`) of a standalone/Sentinel node and of a Cluster.
    lean_client: compat.LeanKind
    lean_cluster: compat.LeanKind

    def connect_kwargs(self) -> dict[str, Any]:
        """Connection kwargs for standalone and Sentinel nodes (Cluster runs its own on-connect)."""
        return {"redis_connect_func": self.on_connect}


_SYNC = _Flavor(
    redis.connection.parse_url,
    redis.ConnectionPool,
    redis.Redis,
    redis.sentinel.Sentinel,
    redis.cluster.RedisCluster,
    redis.cluster.ClusterNode,
    Retry,
    "FakeRedis",
    redis.connection.AbstractConnection,
    _handshake_only,
    "sync",
    "cluster",
)
_ASYNC = _Flavor(
    redis.asyncio.connection.parse_url,
    redis.asyncio.ConnectionPool,
    redis.asyncio.Redis,
    redis.asyncio.sentinel.Sentinel,
    redis.asyncio.cluster.RedisCluster,
    redis.asyncio.cluster.ClusterNode,
    AsyncRetry,
    "FakeAsyncRedis",
    redis.asyncio.connection.AbstractConnection,
    _ahandshake_only,
    "async",
    "async-cluster",
)


def _build(spec: ConnectionSpec, replica_index: int | None, flavor: _Flavor) -> Any:
    if spec.fake:
        import fakeredis

        server, db = _fake_server(spec)
        return getattr(fakeredis, flavor.fake)(server=server, db=db)
    kw = spec.kwargs
    # Retries ConnectionError and TimeoutError (redis-py's default set). With the circuit
    # breaker on, a TimeoutError is not retried: the server did not answer within
    # socket_timeout, a second try against a hung server only doubles the wait (and may run the
    # command twice), and the breaker makes the calls after it fail fast. A refused or dropped
    # connection is still retried (a closed idle connection, a failover's first connect).
    retry = flavor.retry(
        EqualJitterBackoff(cap=0.2, base=0.02),
        spec.retries,
        **({"supported_errors": (redis.exceptions.ConnectionError,)} if spec.breaker_cooldown > 0 else {}),
    )
    client_class = (spec.lean and compat.lean_class(flavor.lean_client)) or flavor.client
    if spec.topology == "standalone":
        url = spec.nodes[0 if replica_index is None else replica_index]
        url_kw: dict[str, Any] = {**flavor.connect_kwargs(), **flavor.parse_url(url)}
        url_kw.update(kw)
        for k in ("username", "password"):
            if k in url_kw and url_kw[k] is None:
                url_kw.pop(k)
        if spec.db is not None:
            url_kw["db"] = spec.db
        return client_class(connection_pool=flavor.pool(retry=retry, **url_kw))
    if spec.topology == "sentinel":
        sentinel = flavor.sentinel(
            [_host_port(n) for n in spec.nodes],
            sentinel_kwargs=_sentinel_kwargs(spec),
            ssl=spec.ssl,
            retry=retry,
            db=spec.db or 0,
            **{**flavor.connect_kwargs(), **kw},
        )
        service = spec.service or ""
        if replica_index is None:
            return sentinel.master_for(service, redis_class=client_class)
        return sentinel.slave_for(service, redis_class=client_class)
    cluster_class = (spec.lean and compat.lean_class(flavor.lean_cluster)) or flavor.cluster
    return cluster_class(
        startup_nodes=[flavor.cluster_node(*_host_port(n)) for n in spec.nodes],
        ssl=spec.ssl,
        retry=retry,
        **_replica_reads(spec.read_from_replicas or replica_index is not None),
        **kw,
    )


def _build_sync(spec: ConnectionSpec, replica_index: int | None = None, role: str = "primary") -> Any:
    client = _build(spec, replica_index, _SYNC)
    if not spec.fake and spec.spin_wait_us:
        spin.attach(client, spec.spin_wait_us)
    if not spec.fake and spec.breaker_cooldown > 0:
        breakers.attach(client, breaker_for(spec, role), asyncio=False)
    instrument.attach(client, lambda: _alias_name(spec), is_async=False)
    return client


def _build_async(spec: ConnectionSpec, replica_index: int | None = None, role: str = "primary") -> Any:
    client = _build(spec, replica_index, _ASYNC)
    if not spec.fake and spec.breaker_cooldown > 0:
        breakers.attach(client, breaker_for(spec, role), asyncio=True)
    instrument.attach(client, lambda: _alias_name(spec), is_async=True)
    return client


def breaker_for(spec: ConnectionSpec, role: str = "primary") -> breakers.Breaker:
    """The circuit breaker of a spec's server role, shared by its sync and asyncio clients."""
    key = (spec, role)
    found = _breakers.get(key)
    if found is None:
        with _lock:
            found = _breakers.get(key)
            if found is None:
                label = _label(spec) + ("" if role == "primary" else f" ({role})")
                found = _breakers[key] = breakers.Breaker(label, spec.breaker_cooldown)
    return found


def _label(spec: ConnectionSpec) -> str:
    """The alias(es) whose settings give ``spec``, for messages; else its nodes."""
    names = []
    for alias in getattr(settings, "CACHES", None) or {}:
        try:
            if spec_for_alias(alias) == spec:
                names.append(repr(alias))
        except Exception:  # a non-Redis or malformed alias is not this one
            continue
    return ", ".join(names) if names else f"<{', '.join(spec.display_nodes())}>"


def _alias_name(spec: ConnectionSpec) -> str:
    """The first alias whose settings give ``spec`` (for instrumentation events); else its nodes."""
    for alias in getattr(settings, "CACHES", None) or {}:
        try:
            if spec_for_alias(alias) == spec:
                return str(alias)
        except Exception:  # a non-Redis or malformed alias is not this one
            continue
    return f"<{', '.join(spec.display_nodes())}>"


def _replica_reads(enabled: bool) -> dict[str, Any]:
    """Cluster replica reads: redis-py >= 5.3 wants a load-balancing strategy, older a flag."""
    if not enabled:
        return {}
    try:
        from redis.cluster import LoadBalancingStrategy
    except ImportError:  # redis-py < 5.3
        return {"read_from_replicas": True}
    return {"load_balancing_strategy": LoadBalancingStrategy.ROUND_ROBIN_REPLICAS}


def _sentinel_kwargs(spec: ConnectionSpec) -> dict[str, Any]:
    skw: dict[str, Any] = {
        "socket_timeout": spec.socket_timeout,
        "socket_connect_timeout": spec.socket_connect_timeout,
        "ssl": spec.ssl,
    }
    if spec.sentinel_username is not None:
        skw["username"] = spec.sentinel_username
    if spec.sentinel_password is not None:
        skw["password"] = spec.sentinel_password
    if spec.ssl:
        skw.update({k: v for k, v in spec.extra if k.startswith("ssl_")})
    return skw


# ---------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------

_alias_specs: dict[str, ConnectionSpec] = {}
_alias_clients: dict[str, Any] = {}
#: (spec, role) -> sync client; role is "primary" or "replica:<n>".
_sync_clients: dict[tuple[ConnectionSpec, str], Any] = {}
#: loop -> {(spec, role) or alias: async client}; entries vanish with their loop.
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, Any]] = weakref.WeakKeyDictionary()
#: (spec, role) -> circuit breaker, shared by the sync client and every loop's async client.
_breakers: dict[tuple[ConnectionSpec, str], breakers.Breaker] = {}


def _role(spec: ConnectionSpec, replica: bool) -> tuple[str, int | None]:
    if not replica:
        return "primary", None
    if spec.topology == "standalone":
        if len(spec.nodes) == 1:
            return "primary", None
        index = random.randrange(1, len(spec.nodes))
        return f"replica:{index}", index
    if spec.topology == "sentinel":
        return "replica:0", 0
    return "replica:0", 0


def client_for_spec(spec: ConnectionSpec, *, replica: bool = False) -> Any:
    """The shared sync client for a spec (built on first use, under a lock)."""
    role, index = _role(spec, replica)
    key = (spec, role)
    client = _sync_clients.get(key)
    if client is None:
        with _lock:
            client = _sync_clients.get(key)
            if client is None:
                client = _build_sync(spec, index, role)
                _sync_clients[key] = client
    return client


def async_client_for_spec(spec: ConnectionSpec, *, replica: bool = False) -> Any:
    """The async client for a spec on the running event loop (call from a coroutine)."""
    loop = asyncio.get_running_loop()
    role, index = _role(spec, replica)
    key = (spec, role)
    per_loop = _async_clients.get(loop)
    if per_loop is None:
        with _lock:
            per_loop = _async_clients.setdefault(loop, {})
    client = per_loop.get(key)
    if client is None:
        # No await between the check and the insert: one client per loop and spec.
        client = _build_async(spec, index, role)
        per_loop[key] = client
    return client


def get_redis(alias: str | None = None, *, replica: bool = False) -> SyncClient:
    """The shared sync redis-py client for a Django cache alias.

    ``alias`` defaults to ``REDIS_PATTERNS["USING"]`` (itself ``"default"``).
    ``replica=True`` returns a client reading from a replica when the alias has any
    (a LOCATION list's later URLs, a Sentinel service's replicas, Cluster replicas);
    otherwise the primary's client. Returns ``redis.Redis`` or ``redis.cluster.RedisCluster``.
    """
    alias = alias or conf.core().USING
    if not replica:
        # Hot path: one dict lookup (cleared whenever CACHES or REDIS_PATTERNS change).
        client = _alias_clients.get(alias)
        if client is None:
            client = _alias_clients[alias] = client_for_spec(spec_for_alias(alias))
        return client
    return client_for_spec(spec_for_alias(alias), replica=True)


async def aget_redis(alias: str | None = None, *, replica: bool = False) -> AsyncClient:
    """The ``redis.asyncio`` client for a cache alias on the running event loop."""
    alias = alias or conf.core().USING
    if replica:
        return async_client_for_spec(spec_for_alias(alias), replica=True)
    per_loop = _async_clients.get(asyncio.get_running_loop())
    client = per_loop.get(alias) if per_loop is not None else None
    if client is None:
        client = async_client_for_spec(spec_for_alias(alias))
        if is_cluster(client):
            # Load the slot map before anyone uses the client: a burst of first calls on an
            # uninitialised async RedisCluster can fail inside redis-py. initialize() is
            # idempotent and locked, so concurrent first callers simply wait for it.
            await client.initialize()
        # The loop's dict exists now; alias keys sit beside (spec, role) keys.
        _async_clients[asyncio.get_running_loop()][alias] = client
    return client


def client_for_config(location: Any, options: Mapping[str, Any] | None, *, replica: bool = False) -> Any:
    """Sync client for a backend built from LOCATION/OPTIONS (shares the alias's pool)."""
    return client_for_spec(parse(location, options), replica=replica)


def topology_of(alias: str | None = None) -> Topology:
    return spec_for_alias(conf.default_alias(alias)).topology


def is_cluster(client: Any) -> bool:
    return isinstance(client, redis.cluster.RedisCluster | redis.asyncio.cluster.RedisCluster)


def close_idle_connections(client: Any) -> None:
    """Close the connections of ``client`` that no thread is using; the client stays usable.

    For ``OPTIONS["CLOSE_CONNECTION"]`` (django-redis's option): connections in use by
    other threads' commands are left alone, unlike a pool ``disconnect()``.
    """
    from .leanclient import LeanRedis

    if is_cluster(client):
        for lean in list(getattr(client, "_lean_nodes", {}).values()):
            lean.close_idle()
        pools = [n.redis_connection.connection_pool for n in client.get_nodes() if n.redis_connection is not None]
    else:
        if isinstance(client, LeanRedis):
            client.close_idle()
        pools = [client.connection_pool]
    for pool in pools:
        pool.disconnect(inuse_connections=False)


def reset() -> None:
    """Forget every client (tests, settings changes). Open connections close when collected."""
    with _lock:
        _alias_specs.clear()
        _alias_clients.clear()
        _sync_clients.clear()
        _async_clients.clear()
        _breakers.clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("CACHES", conf.SETTING_NAME):
        with _lock:
            _alias_specs.clear()
            _alias_clients.clear()
            for per_loop in _async_clients.values():
                for key in [k for k in per_loop if isinstance(k, str)]:
                    del per_loop[key]


setting_changed.connect(_on_setting_changed, dispatch_uid="django_redis_patterns.client.connections.reset")
