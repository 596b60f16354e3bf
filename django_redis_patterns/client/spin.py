"""Wait for a reply by polling for a few microseconds before sleeping in ``recv``.

Why: on a virtual machine an idle vCPU halts, and waking it costs tens of microseconds. A
client that blocks in ``recv`` as soon as it has sent a command lets its vCPU go idle for
the whole round trip, so every command pays that wake-up on top of the server's work: over
loopback that more than doubles a GET (about 65 µs instead of 28 µs here). Polling the
socket for a short budget first keeps the vCPU awake while the reply is on its way; a
reply that takes longer than the budget is waited for by the blocking read, as before, so
the budget never changes which replies arrive or when a timeout fires (it adds at most the
budget to a command that times out).

The cost is CPU time: at most the budget per command, and only while the command waits.
Each poll is a system call that releases the GIL, and the loop offers the CPU to any other
runnable thread or process between polls (``sched_yield``), so a busy machine loses
nothing to it. Where replies keep taking longer than the budget (a distant server, a slow
command), polling would burn the whole budget for nothing: after a few misses in a row a
client stops polling for a while and then tries again.

Lean clients only (:mod:`.leanclient`, and the Cluster's node clients through it); asyncio
clients never poll (their event loop has other work), nor do green sockets (gevent, eventlet:
a polling loop would hold up their hub) or platforms without ``poll()``.
"""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Any

__all__ = ["DEFAULT_SPIN_WAIT_US", "MAX_SPIN_WAIT_US", "Spinner", "attach"]

#: Default budget in microseconds: a couple of loopback or same-host round trips.
DEFAULT_SPIN_WAIT_US = 50
#: A longer budget only burns CPU: past a millisecond, waking up costs comparatively little.
MAX_SPIN_WAIT_US = 1000

#: Misses in a row after which a client stops polling, and for how many commands.
_MISSES_BEFORE_PAUSE = 4
_PAUSE_COMMANDS = 1000

_POLL = getattr(select, "poll", None)  # not on Windows: there nothing polls
_POLLIN = getattr(select, "POLLIN", 1)
_now = time.perf_counter_ns
_yield = getattr(os, "sched_yield", None) or (lambda: None)
#: Only the standard library's sockets are polled: a green socket (gevent, eventlet) waits
#: by switching to its hub, which a polling loop would hold up.
_STDLIB_SOCKETS = frozenset({"socket", "ssl"})
#: One polling thread per process at a time (a non-blocking acquire).
_polling = threading.Lock()


def _new_lock_in_child() -> None:
    # A thread of the parent may have held it at the fork: that thread does not exist here.
    global _polling
    _polling = threading.Lock()


os.register_at_fork(after_in_child=_new_lock_in_child)


class Spinner:
    """One client's polling policy: the budget and the record of recent misses."""

    __slots__ = ("budget_ns", "hits", "misses", "paused", "polls", "waits")

    def __init__(self, budget_us: int) -> None:
        self.budget_ns = budget_us * 1000
        self.misses = 0
        #: Commands left before polling is tried again after a run of misses.
        self.paused = 0
        #: Counters: replies waited for, waits that polled, and polls that saw the reply.
        self.waits = 0
        self.polls = 0
        self.hits = 0

    def wait(self, conn: Any) -> None:
        """Poll ``conn``'s socket until it is readable or the budget is spent."""
        self.waits += 1
        if self.paused:
            self.paused -= 1
            return
        sock = conn._sock
        if sock is None:
            return
        cached = conn.__dict__.get("_drp_poll")
        if cached is None or cached[0] is not sock:
            cached = conn._drp_poll = _poller_for(sock)
        poll = cached[1]
        if poll is None:
            return
        pending = cached[2]
        lock = _polling
        if not lock.acquire(False):
            return  # another thread of this process is polling: it keeps the vCPU awake
        try:
            self.polls += 1
            ready = bool(poll(0)) or (pending is not None and pending() > 0)
            deadline = _now() + self.budget_ns
            while not ready and _now() < deadline:
                _yield()
                ready = bool(poll(0))
        finally:
            lock.release()
        if ready:
            self.hits += 1
            self.misses = 0
            return
        self.misses += 1
        if self.misses >= _MISSES_BEFORE_PAUSE:
            self.misses = 0
            self.paused = _PAUSE_COMMANDS


def _poller_for(sock: Any) -> tuple[Any, Any, Any]:
    """(the socket, its zero-timeout poll or None to never poll it, its TLS ``pending``)."""
    if _POLL is None or type(sock).__module__ not in _STDLIB_SOCKETS:
        return sock, None, None
    poller = _POLL()
    poller.register(sock.fileno(), _POLLIN)
    return sock, poller.poll, getattr(sock, "pending", None)


def attach(client: Any, budget_us: int) -> None:
    """Make a lean sync client poll for ``budget_us`` microseconds; other clients never poll."""
    from .leanclient import LeanRedis
    from .leancluster import LeanRedisCluster

    if isinstance(client, LeanRedis):
        client._spinner = Spinner(budget_us)
    elif isinstance(client, LeanRedisCluster):
        client._spin_wait_us = budget_us
