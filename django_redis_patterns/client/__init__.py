"""The one way to reach Redis. Every pattern above gets its clients and scripts here; this
layer imports nothing from the patterns.

- :mod:`.connections` -- cache alias -> parsed :class:`~.connections.ConnectionSpec` -> shared
  sync client, and one asyncio client per event loop (standalone, Sentinel, Cluster, TLS).
- :mod:`.scripts` -- the Lua registry: package ``lua/*.lua`` files, EVALSHA with NOSCRIPT reload.
- :mod:`.leanclient`, :mod:`.leanasync` -- ``redis.Redis`` / ``redis.asyncio.Redis`` with a lean
  single-command path.
- :mod:`.leancluster`, :mod:`.leanasynccluster` -- the same for ``RedisCluster``.
- :mod:`.compat` -- the redis-py private names the lean clients rely on, checked once against
  the installed redis-py; a lean client whose names are missing is switched off.
"""
