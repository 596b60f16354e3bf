"""The redis-py internals the lean clients rely on, checked once against the installed redis-py.

The lean clients (:mod:`.leanclient`, :mod:`.leanasync`, :mod:`.leancluster`,
:mod:`.leanasynccluster`) skip redis-py's per-command machinery by calling a few of its
private names, and the Cluster ones repeat its error-recovery steps. A redis-py release may
rename or rework any of them. So every such name is listed here, and checked once per
process (at import: attribute lookups and signatures, no I/O). Where a lean client's list
does not hold, that client is off for the process: :func:`lean_class` answers ``None``, the
connection layer builds redis-py's plain client instead, one WARNING names what is missing
(when such a client is first built), and ``manage.py redis_status`` shows it.

A requirement may also be the *absence* of a name: the Cluster clients mirror one specific
topology-refresh protocol (redis-py 8.0-8.1 refresh at once on an error); a release that
defers the refresh (``_request_refresh``) recovers differently, and mirroring only part of
it would change how many attempts a command gets.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import logging
import re
import sys
from typing import Any, Literal

import redis

__all__ = ["KINDS", "LeanKind", "Requirement", "lean_class", "lean_status", "missing", "status_line"]

logger = logging.getLogger("django_redis_patterns.client")

LeanKind = Literal["sync", "async", "cluster", "async-cluster"]
KINDS: tuple[LeanKind, ...] = ("sync", "async", "cluster", "async-cluster")


@dataclasses.dataclass(frozen=True)
class Requirement:
    """``owner.name`` must exist (or, with ``absent``, must not), taking ``params`` if given.

    ``instance``: the name is an instance attribute, so it is looked for as an assignment
    ``self.<name> =`` in the source of the class or of one of its bases.
    """

    owner: str
    name: str
    params: tuple[str, ...] = ()
    instance: bool = False
    absent: bool = False

    def problem(self) -> str | None:
        """None when the installed redis-py meets this requirement, else what is wrong."""
        module_name, _, attr_path = self.owner.rpartition(":") if ":" in self.owner else (self.owner, "", "")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in filter(None, attr_path.split(".")):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            return f"no {self.where}" if not self.absent else None
        short = self.where
        if self.instance:
            found = hasattr(obj, self.name) or _assigned_in(obj, self.name)  # a property, or set in a method
            return None if found else f"no {short}"
        has = hasattr(obj, self.name)
        if self.absent:
            return f"{short} is a protocol the lean client does not mirror" if has else None
        if not has:
            return f"no {short}"
        if self.params:
            try:
                parameters = inspect.signature(getattr(obj, self.name)).parameters
            except (TypeError, ValueError):
                return f"{short} has no readable signature"
            lacking = [p for p in self.params if p not in parameters]
            if lacking:
                return f"{short} takes no {', '.join(lacking)}"
        return None

    @property
    def where(self) -> str:
        owner = self.owner.rpartition(":")[2] or self.owner
        return f"{owner}.{self.name}"


@functools.cache
def _module_source(module_name: str) -> str:
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def _assigned_in(cls: type, name: str) -> bool:
    """Whether the module of ``cls`` or of one of its bases assigns ``self.<name>``.

    Plain text, not ``inspect.getsource``: that parses the whole module into an AST, which is
    slow and, deep in a call stack, can hit a CPython 3.11 parser limit.
    """
    pattern = re.compile(rf"\bself\.{re.escape(name)}\s*(:[^=\n]*)?=(?!=)")
    return any(pattern.search(_module_source(klass.__module__)) for klass in getattr(cls, "__mro__", ()))


def _conn(name: str, **kw: Any) -> Requirement:
    return Requirement("redis.connection:AbstractConnection", name, **kw)


def _aconn(name: str, **kw: Any) -> Requirement:
    return Requirement("redis.asyncio.connection:AbstractConnection", name, **kw)


_SINGLE_NODE_SYNC = (
    Requirement("redis.client", "EMPTY_RESPONSE"),
    Requirement("redis.client", "NEVER_DECODE"),
    _conn("pack_command"),
    _conn("send_packed_command"),
    _conn("read_response"),
    _conn("connect"),
    _conn("disconnect"),
    _conn("_sock", instance=True),
    _conn("retry", instance=True),
    Requirement("redis.connection:ConnectionPool", "owns_connection"),
    Requirement("redis.connection:ConnectionPool", "connection_kwargs", instance=True),
    Requirement("redis.connection:ConnectionPool", "max_connections", instance=True),
    Requirement("redis.retry:Retry", "call_with_retry"),
)

#: What each lean client needs from redis-py.
REQUIREMENTS: dict[LeanKind, tuple[Requirement, ...]] = {
    "sync": _SINGLE_NODE_SYNC,
    "async": (
        Requirement("redis.client", "EMPTY_RESPONSE"),
        Requirement("redis.client", "NEVER_DECODE"),
        _aconn("pack_command"),
        _aconn("send_packed_command"),
        _aconn("read_response", params=("disable_decoding",)),
        _aconn("connect"),
        _aconn("disconnect", params=("nowait",)),
        _aconn("can_read"),
        _aconn("is_connected"),
        Requirement("redis.asyncio.sentinel:SentinelManagedConnection", "_connect_retry"),
        Requirement("redis.asyncio.sentinel:SentinelConnectionPool", "master_address", instance=True),
        Requirement("redis.asyncio.retry:Retry", "call_with_retry"),
    ),
    # Plus one of CLUSTER_PROTOCOLS below.
    "cluster": (
        *_SINGLE_NODE_SYNC,
        Requirement("redis.cluster:RedisCluster", "_execute_command"),
        Requirement("redis.cluster:RedisCluster", "reinitialize_counter", instance=True),
        Requirement("redis.cluster:RedisCluster", "replace_default_node"),
        Requirement("redis.cluster:RedisCluster", "ERRORS_ALLOW_RETRY"),
        Requirement("redis.cluster:NodesManager", "move_node_to_end_of_cached_nodes"),
        Requirement("redis.cluster:NodesManager", "move_slot"),
        Requirement("redis.cluster:NodesManager", "slots_cache", instance=True),
        Requirement("redis.retry:Retry", "get_retries"),
    ),
    # Plus one of ASYNC_CLUSTER_PROTOCOLS below.
    "async-cluster": (
        Requirement("redis.asyncio.cluster:RedisCluster", "_execute_command"),
        Requirement("redis.asyncio.cluster:RedisCluster", "_initialize", instance=True),
        Requirement("redis.asyncio.cluster:RedisCluster", "_policy_resolver", instance=True),
        Requirement("redis.asyncio.cluster:RedisCluster", "initialize"),
        Requirement("redis.asyncio.cluster:RedisCluster", "replace_default_node"),
        Requirement("redis.asyncio.cluster:RedisCluster", "ERRORS_ALLOW_RETRY"),
        Requirement("redis.asyncio.cluster:NodesManager", "get_node_from_slot"),
        Requirement("redis.asyncio.retry:Retry", "get_retries"),
    ),
}


#: The two topology-refresh protocols :class:`~.leancluster.LeanRedisCluster` mirrors after an
#: error: redis-py 8.0-8.1 refresh at once ("immediate"); 8.2 asks for a refresh that the next
#: attempt runs once due, with a back-off between attempts ("deferred").
CLUSTER_PROTOCOLS: dict[str, tuple[Requirement, ...]] = {
    "deferred": (
        Requirement("redis.cluster", "_should_request_refresh"),
        Requirement("redis.cluster", "_error_to_raise"),
        Requirement("redis.cluster", "_fill_missing_redirect_host"),
        Requirement("redis.cluster:RedisCluster", "reinitialize_steps", instance=True),
        Requirement("redis.cluster:RedisCluster", "_retry_backoff_delay"),
        Requirement(
            "redis.cluster:NodesManager",
            "_request_refresh",
            params=("additional_startup_nodes_info", "last_failed_node_name"),
        ),
        Requirement("redis.cluster:NodesManager", "_run_requested_refresh"),
        Requirement("redis.cluster:NodesManager", "_refresh_requested", instance=True),
        Requirement("redis.cluster:NodesManager", "_error_instead_of_retry"),
        Requirement("redis.cluster:NodesManager", "_last_refresh_at", instance=True),
        Requirement("redis.cluster:NodesManager", "_last_refresh_unreachable_args", instance=True),
        Requirement("redis.cluster:NodesManager", "remap_host_port"),
    ),
    "immediate": (
        Requirement("redis.cluster:RedisCluster", "_should_reinitialized"),
        Requirement("redis.cluster:RedisCluster", "_request_refresh", absent=True),
        Requirement("redis.cluster:NodesManager", "_request_refresh", absent=True),
        Requirement(
            "redis.cluster:NodesManager",
            "initialize",
            params=("additional_startup_nodes_info", "last_failed_node_name"),
        ),
        Requirement("redis.connection:ConnectionPool", "update_active_connections_for_reconnect"),
        Requirement("redis.connection:ConnectionPool", "disconnect_free_connections"),
        Requirement("redis.connection:ConnectionPool", "_lock", instance=True),
    ),
}


ASYNC_CLUSTER_PROTOCOLS: dict[str, tuple[Requirement, ...]] = {
    "deferred": (
        Requirement("redis.asyncio.cluster", "_error_to_raise"),
        Requirement("redis.asyncio.cluster:RedisCluster", "_initialize_due"),
        Requirement("redis.asyncio.cluster:RedisCluster", "_retry_backoff_delay"),
        Requirement("redis.asyncio.cluster:NodesManager", "_error_instead_of_retry"),
        Requirement("redis.asyncio.cluster:NodesManager", "_last_refresh_at", instance=True),
        Requirement("redis.asyncio.cluster:NodesManager", "_last_refresh_unreachable_args", instance=True),
    ),
    "immediate": (
        Requirement("redis.asyncio.cluster:RedisCluster", "_request_refresh", absent=True),
        Requirement("redis.asyncio.cluster:NodesManager", "initialize", params=("last_failed_node_name",)),
    ),
}


def _protocol(protocols: dict[str, tuple[Requirement, ...]]) -> str | None:
    for name, reqs in protocols.items():
        if all(r.problem() is None for r in reqs):
            return name
    return None


def async_cluster_protocol() -> str | None:
    """The refresh protocol of the installed redis-py that the asyncio lean Cluster client mirrors."""
    return _protocol(ASYNC_CLUSTER_PROTOCOLS)


def cluster_protocol() -> str | None:
    """The refresh protocol of the installed redis-py that the lean Cluster client mirrors, if any."""
    return _protocol(CLUSTER_PROTOCOLS)


def missing(kind: LeanKind, requirements: dict[LeanKind, tuple[Requirement, ...]] | None = None) -> list[str]:
    """What the installed redis-py lacks for the ``kind`` lean client ([] when it is usable)."""
    reqs = (requirements or REQUIREMENTS)[kind]
    problems = [p for p in (r.problem() for r in reqs) if p is not None]
    protocols = {"cluster": CLUSTER_PROTOCOLS, "async-cluster": ASYNC_CLUSTER_PROTOCOLS}.get(kind)
    if protocols is not None and _protocol(protocols) is None:
        # Name what the newest protocol lacks: that is the one a redis-py upgrade would bring.
        problems += [p for p in (r.problem() for r in protocols["deferred"]) if p is not None]
    return problems


_MISSING: dict[LeanKind, list[str]] = {kind: missing(kind) for kind in KINDS}
_warned: set[LeanKind] = set()


def lean_status(kind: LeanKind) -> tuple[bool, str]:
    """(usable, why not) for a lean client on the installed redis-py."""
    lacking = _MISSING[kind]
    if not lacking:
        return True, ""
    return False, f"redis-py {redis.__version__}: {lacking[0]}" + (
        f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""
    )


def lean_class(kind: LeanKind) -> type | None:
    """The lean client class for ``kind``, or None (with one WARNING per process) when it is off."""
    usable, why = lean_status(kind)
    if not usable:
        if kind not in _warned:
            _warned.add(kind)
            logger.warning(
                "django-redis-patterns: the lean %s client is off, plain redis-py clients are used (%s)",
                kind,
                why,
            )
        return None
    if kind == "sync":
        from .leanclient import LeanRedis

        return LeanRedis
    if kind == "async":
        from .leanasync import LeanAsyncRedis

        return LeanAsyncRedis
    if kind == "cluster":
        from .leancluster import LeanRedisCluster

        return LeanRedisCluster
    from .leanasynccluster import LeanAsyncRedisCluster

    return LeanAsyncRedisCluster


def status_line(topology: str, enabled_by_options: bool) -> str:
    """``lean: on`` / ``lean: off (redis-py 8.2.0: no RedisCluster.foo)`` for ``redis_status``.

    Covers the sync and the asyncio client of the topology; when only one of them is off,
    the line says which.
    """
    if not enabled_by_options:
        return "lean: off (OPTIONS['LEAN_CLIENT'] = False)"
    kinds: tuple[LeanKind, LeanKind] = ("cluster", "async-cluster") if topology == "cluster" else ("sync", "async")
    (sync_ok, sync_why), (async_ok, async_why) = (lean_status(k) for k in kinds)
    if sync_ok and async_ok:
        return "lean: on"
    if not sync_ok and not async_ok:
        return (
            f"lean: off ({sync_why})" if sync_why == async_why else f"lean: off (sync {sync_why}; asyncio {async_why})"
        )
    return f"lean: sync on, asyncio off ({async_why})" if sync_ok else f"lean: sync off ({sync_why}), asyncio on"
