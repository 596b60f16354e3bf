"""Lua registry: ``lua/*.lua`` files loaded once, called with EVALSHA, reloaded on NOSCRIPT.

Each script file starts with a header comment that states its contract::

    -- KEYS[1]  the counter
    -- ARGV[1]  limit
    -- reply    {allowed, remaining}

Scripts are package resources: ``Script("gcra", package="django_redis_patterns.ratelimit")``
reads ``django_redis_patterns/ratelimit/lua/gcra.lua``. The SHA1 is computed locally, so
the first call costs no SCRIPT LOAD: EVALSHA is tried, and a NOSCRIPT reply (a new or
restarted or failed-over server) falls back to EVAL once, which also caches the script
on that server. On Cluster every call's keys must share one slot (use a ``{hash tag}``);
that is checked before sending, so a mistake is a clear error, not CROSSSLOT at runtime.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any

from redis.crc import key_slot
from redis.exceptions import NoScriptError

from ..exceptions import ImproperlyConfigured

KeyT = str | bytes
ArgT = str | bytes | int | float

_HEADER_FIELDS = ("KEYS", "ARGV", "reply")


class Script:
    """One Lua script, sync and async callable with the same arguments."""

    def __init__(self, name: str, *, package: str = "django_redis_patterns", source: str | None = None):
        self.name = name
        self.package = package
        if source is None:
            try:
                source = resources.files(package).joinpath("lua", f"{name}.lua").read_text("utf-8")
            except FileNotFoundError:
                raise ImproperlyConfigured(f"no Lua script {name!r} in {package}/lua/")
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()
        self.header = self._parse_header(source)

    def _parse_header(self, source: str) -> dict[str, list[str]]:
        header: dict[str, list[str]] = {}
        for line in source.splitlines():
            if not line.startswith("--"):
                break
            text = line[2:].strip()
            for field in _HEADER_FIELDS:
                if text.startswith(field):
                    header.setdefault(field, []).append(text)
        missing = [f for f in _HEADER_FIELDS if f not in header]
        if missing:
            raise ImproperlyConfigured(
                f"Lua script {self.package}/lua/{self.name}.lua must start with a header comment "
                f"naming {', '.join(_HEADER_FIELDS)}; missing {', '.join(missing)}"
            )
        return header

    def __repr__(self) -> str:
        return f"<Script {self.package}:{self.name} {self.sha[:8]}>"

    def check_slot(self, keys: Sequence[KeyT]) -> None:
        if len(keys) > 1:
            slots = {key_slot(k.encode() if isinstance(k, str) else k) for k in keys}
            if len(slots) > 1:
                raise ImproperlyConfigured(
                    f"{self!r}: keys {list(keys)!r} map to different Cluster slots; give them a common {{hash tag}}"
                )

    def __call__(self, client: Any, keys: Sequence[KeyT] = (), args: Sequence[ArgT] = ()) -> Any:
        """Run on a sync client (``redis.Redis`` or ``RedisCluster``): one round trip."""
        if _is_cluster(client):
            self.check_slot(keys)
        try:
            # execute_command, not evalsha(): the same command without two wrapper calls.
            return client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return client.execute_command("EVAL", self.source, len(keys), *keys, *args)

    async def acall(self, client: Any, keys: Sequence[KeyT] = (), args: Sequence[ArgT] = ()) -> Any:
        """Run on a ``redis.asyncio`` client: one round trip, no thread hop."""
        if _is_cluster(client):
            self.check_slot(keys)
        try:
            return await client.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.execute_command("EVAL", self.source, len(keys), *keys, *args)

    def queue(self, pipeline: Any, keys: Sequence[KeyT] = (), args: Sequence[ArgT] = ()) -> None:
        """Add a call to a pipeline (plain or Cluster, sync or async).

        EVAL, not EVALSHA: a pipeline cannot recover from NOSCRIPT. Sent with
        ``execute_command``: redis-py 8's sync ``ClusterPipeline.eval()`` is not the EVAL command.
        """
        pipeline.execute_command("EVAL", self.source, len(keys), *keys, *args)


_cluster_types: dict[type, bool] = {}


def _is_cluster(client: Any) -> bool:
    # Duck-typed so the registry does not import the connection layer; remembered per
    # class, because a failed hasattr() costs an exception on every call.
    cls = type(client)
    known = _cluster_types.get(cls)
    if known is None:
        known = _cluster_types[cls] = hasattr(cls, "get_node_from_key") or cls.__name__ == "RedisCluster"
    return known


_registry: dict[tuple[str, str], Script] = {}
_registry_lock = threading.RLock()  # re-entrant: a package import may itself load scripts


def load(name: str, package: str = "django_redis_patterns") -> Script:
    """The registered :class:`Script` for ``<package>/lua/<name>.lua`` (read from disk once)."""
    key = (package, name)
    script = _registry.get(key)
    if script is None:
        with _registry_lock:
            script = _registry.get(key)
            if script is None:
                script = _registry[key] = Script(name, package=package)
    return script


def available(package: str = "django_redis_patterns") -> list[str]:
    """Names of the scripts a package ships (for checks and ``redis_status``)."""
    folder = resources.files(package).joinpath("lua")
    if not folder.is_dir():
        return []
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".lua"))
