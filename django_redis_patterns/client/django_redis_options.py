"""django-redis's connection settings, read as this package's (or refused, never ignored).

A ``CACHES`` entry written for django-redis keeps working when only ``BACKEND`` changes:

* **Sentinel** (``CLIENT_CLASS = "django_redis.client.SentinelClient"`` or
  ``CONNECTION_FACTORY``/``DJANGO_REDIS_CONNECTION_FACTORY = "django_redis.pool.SentinelConnectionFactory"``,
  with ``SENTINELS = [(host, port), ...]`` and ``LOCATION = "redis://<service>/<db>"``) becomes
  ``redis+sentinel://h1:p1,h2:p2/<service>/<db>``; ``SentinelClient`` (or a LOCATION URL with
  ``is_master=0``) reads from replicas, as in django-redis; ``SENTINEL_KWARGS``' ``username`` and
  ``password`` become the Sentinels' credentials.
* ``CONNECTION_POOL_CLASS_KWARGS`` adds to ``CONNECTION_POOL_KWARGS``.
* The defaults (``DefaultClient``, ``ConnectionFactory``, ``redis.ConnectionPool``, ``redis.Redis``,
  ``REPLICA_READ_ONLY=True``, ``PARSER_CLASS`` naming redis-py's default parser: hiredis when
  installed) are accepted as the no-ops they are.

Everything else raises :class:`UnsupportedOptions` (system check ``redis_patterns.E009``), one
problem per option, each naming the option and what to use instead: ``ShardClient`` (django-redis
shards keys over the servers of a LOCATION list; read as primary + replicas, every read would
miss), ``HerdClient`` (its values carry a herd envelope), any other client class, connection
factory, pool class, client class or client kwargs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import redis.connection

from ..exceptions import ImproperlyConfigured

DEFAULT_CLIENTS = {"django_redis.client.DefaultClient", "django_redis.client.default.DefaultClient"}
SENTINEL_CLIENTS = {"django_redis.client.SentinelClient", "django_redis.client.sentinel.SentinelClient"}
SHARD_CLIENTS = {"django_redis.client.ShardClient", "django_redis.client.sharded.ShardClient"}
HERD_CLIENTS = {"django_redis.client.HerdClient", "django_redis.client.herd.HerdClient"}
DEFAULT_FACTORY = "django_redis.pool.ConnectionFactory"
SENTINEL_FACTORY = "django_redis.pool.SentinelConnectionFactory"
DEFAULT_POOLS = {"redis.ConnectionPool", "redis.connection.ConnectionPool"}
SENTINEL_POOLS = {"redis.sentinel.SentinelConnectionPool"}
DEFAULT_REDIS_CLIENTS = {"redis.Redis", "redis.client.Redis", "redis.StrictRedis", "redis.client.StrictRedis"}

#: The options this module consumes (they never reach the rest of the connection layer).
HANDLED = frozenset(
    {
        "CLIENT_CLASS",
        "CONNECTION_FACTORY",
        "SENTINELS",
        "SENTINEL_KWARGS",
        "CONNECTION_POOL_CLASS",
        "CONNECTION_POOL_CLASS_KWARGS",
        "PARSER_CLASS",
        "REDIS_CLIENT_CLASS",
        "REDIS_CLIENT_KWARGS",
        "REPLICA_READ_ONLY",
    }
)


class UnsupportedOptions(ImproperlyConfigured):
    """django-redis settings this package cannot honour; ``problems``: ``(option, message)`` each."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


def _global_factory() -> str | None:
    from django.conf import settings

    return getattr(settings, "DJANGO_REDIS_CONNECTION_FACTORY", None) if settings.configured else None


def translate(location: Any, options: Mapping[str, Any], argument: str) -> tuple[Any, dict[str, Any]]:
    """(LOCATION, OPTIONS) in this package's terms; :class:`UnsupportedOptions` for what cannot be."""
    options = dict(options)
    if not HANDLED & set(options) and _global_factory() in (None, DEFAULT_FACTORY):
        return location, options
    problems: list[tuple[str, str]] = []
    client_class = options.pop("CLIENT_CLASS", None)
    factory = options.pop("CONNECTION_FACTORY", None) or _global_factory()
    sentinels = options.pop("SENTINELS", None)
    sentinel_kwargs = options.pop("SENTINEL_KWARGS", None)
    sentinel = client_class in SENTINEL_CLIENTS or factory == SENTINEL_FACTORY

    if client_class in SHARD_CLIENTS:
        problems.append(
            (
                "CLIENT_CLASS",
                f"OPTIONS['CLIENT_CLASS'] = {client_class!r} (client-side sharding) is not supported: this "
                "backend reads a LOCATION list as one primary and its replicas, so sharded data would "
                "be written to one server and looked for on another. Use Redis Cluster "
                "(LOCATION 'redis+cluster://h1:7000,h2:7001') or a single server",
            )
        )
    elif client_class in HERD_CLIENTS:
        problems.append(
            (
                "CLIENT_CLASS",
                f"OPTIONS['CLIENT_CLASS'] = {client_class!r} is not supported (its values carry a herd "
                "envelope this backend does not read). Remove CLIENT_CLASS; stampede protection is "
                "get_or_set()'s (OPTIONS['STAMPEDE'])",
            )
        )
    elif client_class is not None and client_class not in DEFAULT_CLIENTS | SENTINEL_CLIENTS:
        problems.append(
            (
                "CLIENT_CLASS",
                f"OPTIONS['CLIENT_CLASS'] = {client_class!r} is not supported: this backend has no client "
                "classes. Remove CLIENT_CLASS (Sentinel and Cluster come from the LOCATION URL)",
            )
        )
    if factory not in (None, DEFAULT_FACTORY, SENTINEL_FACTORY):
        problems.append(
            (
                "CONNECTION_FACTORY",
                f"CONNECTION_FACTORY = {factory!r} is not supported: connections are built by this "
                "package. Remove it (Sentinel: redis+sentinel:// LOCATION or SentinelConnectionFactory)",
            )
        )
    pool = options.pop("CONNECTION_POOL_CLASS", None)
    if pool is not None and pool not in DEFAULT_POOLS | (SENTINEL_POOLS if sentinel else set()):
        problems.append(
            (
                "CONNECTION_POOL_CLASS",
                f"OPTIONS['CONNECTION_POOL_CLASS'] = {pool!r} is not supported: every alias uses redis-py's "
                "ConnectionPool. Remove it; size the pool with OPTIONS['MAX_CONNECTIONS']",
            )
        )
    pool_kwargs = options.pop("CONNECTION_POOL_CLASS_KWARGS", None)
    if pool_kwargs is not None:
        if not isinstance(pool_kwargs, dict):
            problems.append(("CONNECTION_POOL_CLASS_KWARGS", "OPTIONS['CONNECTION_POOL_CLASS_KWARGS'] must be a dict"))
        else:
            options["CONNECTION_POOL_KWARGS"] = {**pool_kwargs, **(options.get("CONNECTION_POOL_KWARGS") or {})}
    parser = options.pop("PARSER_CLASS", None)
    if parser is not None and not _is_default_parser(parser):
        problems.append(
            (
                "PARSER_CLASS",
                f"OPTIONS['PARSER_CLASS'] = {parser!r} is not the parser in use: every connection (sync "
                "and asyncio) uses redis-py's default, hiredis when it is installed. Remove it",
            )
        )
    redis_client = options.pop("REDIS_CLIENT_CLASS", None)
    if redis_client is not None and redis_client not in DEFAULT_REDIS_CLIENTS:
        problems.append(
            (
                "REDIS_CLIENT_CLASS",
                f"OPTIONS['REDIS_CLIENT_CLASS'] = {redis_client!r} is not supported: clients are built by "
                "this package. Remove it",
            )
        )
    client_kwargs = options.pop("REDIS_CLIENT_KWARGS", None)
    if client_kwargs:
        problems.append(
            (
                "REDIS_CLIENT_KWARGS",
                f"OPTIONS['REDIS_CLIENT_KWARGS'] = {client_kwargs!r} is not supported: put connection "
                "arguments in OPTIONS['CONNECTION_POOL_KWARGS']",
            )
        )
    if options.pop("REPLICA_READ_ONLY", True) is not True:
        problems.append(
            (
                "REPLICA_READ_ONLY",
                "OPTIONS['REPLICA_READ_ONLY'] = False (retry a failed read on the other servers) is not "
                "supported: remove it; reads from replicas fail like any other command",
            )
        )
    if not sentinel and (sentinels is not None or sentinel_kwargs is not None):
        problems.append(
            (
                "SENTINELS",
                "OPTIONS['SENTINELS'] is set but neither CLIENT_CLASS is django-redis's SentinelClient nor "
                "CONNECTION_FACTORY its SentinelConnectionFactory, so django-redis would not use it either. "
                "Use LOCATION 'redis+sentinel://h1:26379,h2:26379/<service>/<db>'",
            )
        )
    if sentinel:
        try:
            location, sentinel_options = _sentinel(location, sentinels, sentinel_kwargs, client_class, argument)
            options.update(sentinel_options)
        except UnsupportedOptions as exc:
            problems += exc.problems
    if problems:
        raise UnsupportedOptions(problems)
    return location, options


def _is_default_parser(path: Any) -> bool:
    """Whether ``path`` names the parser redis-py uses here anyway (hiredis when installed)."""
    if not isinstance(path, str):
        return False
    try:
        from django.utils.module_loading import import_string

        cls = import_string(path)
    except ImportError:
        return False
    return cls is redis.connection.DefaultParser


def _sentinel(
    location: Any, sentinels: Any, sentinel_kwargs: Any, client_class: Any, argument: str
) -> tuple[str, dict[str, Any]]:
    problems: list[tuple[str, str]] = []
    nodes: list[str] = []
    if not sentinels or not isinstance(sentinels, list | tuple):
        problems.append(("SENTINELS", "OPTIONS['SENTINELS'] must list the Sentinels as [(host, port), ...]"))
    else:
        for entry in sentinels:
            if isinstance(entry, str):
                host, _, port = entry.rpartition(":")
            elif isinstance(entry, list | tuple) and len(entry) == 2:
                host, port = entry
            else:
                host, port = "", ""
            if not str(port).isdigit():
                problems.append(("SENTINELS", f"OPTIONS['SENTINELS'] entry {entry!r} is not (host, port)"))
            nodes.append(f"{host}:{port}")
    extra: dict[str, Any] = {}
    if sentinel_kwargs:
        for key, value in dict(sentinel_kwargs).items():
            if key in ("username", "password"):
                extra[f"SENTINEL_{key.upper()}"] = value
            else:
                problems.append(
                    (
                        "SENTINEL_KWARGS",
                        f"OPTIONS['SENTINEL_KWARGS'][{key!r}] is not supported: only 'username' and 'password' "
                        "(the Sentinels' credentials); their timeouts are SOCKET_TIMEOUT and SOCKET_CONNECT_TIMEOUT",
                    )
                )
    urls = [location] if isinstance(location, str) else list(location or [])
    targets: set[tuple[str, int, str]] = set()
    replicas = client_class in SENTINEL_CLIENTS
    for url in urls:
        for part in url.split(",") if isinstance(url, str) else [url]:
            parts = urlsplit(str(part).strip())
            query = parse_qs(parts.query)
            db_text = query.get("db", [parts.path.strip("/") or "0"])[-1]
            if parts.scheme not in ("redis", "rediss") or not parts.hostname or not db_text.isdigit():
                problems.append(
                    (
                        "LOCATION",
                        f"{argument} {part!r}: with django-redis's Sentinel settings it must be "
                        "redis://<service>/<db> (or redis://<service>?db=<db>)",
                    )
                )
                continue
            if query.get("is_master", ["1"])[-1].lower() in ("0", "false"):
                replicas = True
            credentials = ""
            if parts.username or parts.password:
                credentials = f"{quote(unquote(parts.username or ''))}:{quote(unquote(parts.password or ''))}@"
            targets.add((credentials, int(db_text), f"{parts.scheme}|{parts.hostname}"))
    if len(targets) > 1:
        problems.append(
            ("LOCATION", f"{argument} names several Sentinel services or dbs: {sorted(t[2] for t in targets)}")
        )
    if problems or not targets:
        raise UnsupportedOptions(problems or [("LOCATION", f"{argument} is empty")])
    credentials, db, scheme_service = targets.pop()
    scheme, service = scheme_service.split("|", 1)
    url = f"{scheme}+sentinel://{credentials}{','.join(nodes)}/{quote(service)}/{db}"
    if replicas:
        extra["READ_FROM_REPLICAS"] = True
    return url, extra
