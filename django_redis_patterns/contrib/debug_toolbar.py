"""A django-debug-toolbar panel: every Redis round trip of a request (extra ``debug-toolbar``).

::

    DEBUG_TOOLBAR_PANELS = [
        *debug_toolbar.settings.PANELS_DEFAULTS,
        "django_redis_patterns.contrib.debug_toolbar.RedisPanel",
    ]

Per request it lists each command (or pipeline) with its alias, node, pattern and
operation, key (truncated), duration and the Python stack that sent it; the totals per
pattern; and what the patterns decided: rate-limit checks, lock acquisitions and holds,
cache hits and misses, session loads and saves, board reads and syncs. ``"django_redis_patterns"``
must be in ``INSTALLED_APPS`` (the panel's template lives there).

The panel listens only while a request it records is running: other requests, and a
process without the toolbar, pay nothing.
"""

from __future__ import annotations

import threading
from typing import Any

from asgiref.local import Local
from debug_toolbar.panels import Panel
from debug_toolbar.utils import get_stack_trace, render_stacktrace
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..client import instrument

__all__ = ["RedisPanel"]


class _Forwarder(instrument.Listener):
    """One listener for the process; hands what it sees to the panel of the current request."""

    def __init__(self) -> None:
        self.local = Local()
        self.active = 0
        self.lock = threading.Lock()

    def panel(self) -> RedisPanel | None:
        return getattr(self.local, "panel", None)

    def command(self, event: instrument.CommandEvent) -> None:
        panel = self.panel()
        if panel is not None:
            panel._record_command(event, get_stack_trace(skip=4))

    def event(self, event: instrument.PatternEvent) -> None:
        panel = self.panel()
        if panel is not None:
            panel._record_event(event)

    def start(self, panel: RedisPanel) -> None:
        self.local.panel = panel
        with self.lock:
            self.active += 1
            if self.active == 1:
                instrument.add_listener(self)

    def stop(self) -> None:
        if getattr(self.local, "panel", None) is None:
            return
        del self.local.panel
        with self.lock:
            self.active -= 1
            if self.active == 0:
                instrument.remove_listener(self)


_forwarder = _Forwarder()


#: Events the panel shows as totals rather than one row each.
_COUNTED = {("cache", "hit"), ("cache", "miss")}


def _ms(ns: int) -> float:
    return ns / 1e6


class RedisPanel(Panel):
    """Redis commands and pattern decisions of one request."""

    template = "django_redis_patterns/debug_toolbar_panel.html"
    is_async = True
    nav_title = _("Redis")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: list[dict[str, Any]] = []
        self.events: list[instrument.PatternEvent] = []

    # -- recording -----------------------------------------------------------------------
    def _record_command(self, event: instrument.CommandEvent, trace: Any) -> None:
        self.commands.append(
            {
                "alias": event.alias,
                "node": event.node,
                "pattern": event.pattern or "-",
                "operation": event.operation or "",
                "command": event.command,
                "pipeline": ", ".join(event.commands) if event.commands is not None else "",
                "key": event.key or "",
                "ms": _ms(event.end_ns - event.start_ns),
                "error": "" if event.error is None else f"{type(event.error).__name__}: {event.error}",
                "trace": render_stacktrace(trace),
            }
        )

    def _record_event(self, event: instrument.PatternEvent) -> None:
        self.events.append(event)

    # -- the Panel API -------------------------------------------------------------------
    def enable_instrumentation(self) -> None:
        _forwarder.start(self)

    def disable_instrumentation(self) -> None:
        _forwarder.stop()

    @property
    def nav_subtitle(self) -> str:
        stats = self.get_stats()
        count = len(stats.get("commands", ()))
        return ngettext("%(count)d command in %(time).2f ms", "%(count)d commands in %(time).2f ms", count) % {
            "count": count,
            "time": stats.get("total_ms", 0.0),
        }

    @property
    def title(self) -> str:
        return str(_("Redis commands and pattern decisions"))

    def generate_stats(self, request: Any, response: Any) -> None:
        totals: dict[str, dict[str, Any]] = {}
        for c in self.commands:
            row = totals.setdefault(c["pattern"], {"pattern": c["pattern"], "count": 0, "ms": 0.0})
            row["count"] += 1
            row["ms"] += c["ms"]
        hits = sum(e.data.get("count", 1) for e in self.events if (e.pattern, e.name) == ("cache", "hit"))
        misses = sum(e.data.get("count", 1) for e in self.events if (e.pattern, e.name) == ("cache", "miss"))
        self.record_stats(
            {
                "commands": self.commands,
                "total_ms": sum(c["ms"] for c in self.commands),
                "totals": sorted(totals.values(), key=lambda row: -row["count"]),
                "cache": {"hits": hits, "misses": misses},
                "ratelimit": [self._decision(e) for e in self.events if e.pattern == "ratelimit"],
                "locks": [self._lock(e) for e in self.events if e.pattern == "locks"],
                "others": [
                    {"what": f"{e.pattern} {e.name}", "alias": e.alias, "data": self._data(e.data)}
                    for e in self.events
                    if e.pattern not in ("ratelimit", "locks") and (e.pattern, e.name) not in _COUNTED
                ],
            }
        )

    def generate_server_timing(self, request: Any, response: Any) -> None:
        stats = self.get_stats()
        self.record_server_timing(
            "total_ms", f"Redis {len(stats.get('commands', ()))} commands", stats.get("total_ms", 0)
        )

    @staticmethod
    def _decision(e: instrument.PatternEvent) -> dict[str, Any]:
        d = e.data
        return {
            "alias": e.alias,
            "group": d.get("group") or "-",
            "algorithm": d.get("algorithm"),
            "decision": ("allowed" if d.get("allowed") else "denied") if d.get("counted") else "peek",
            "remaining": d.get("remaining"),
            "limit": d.get("limit"),
        }

    @staticmethod
    def _lock(e: instrument.PatternEvent) -> dict[str, Any]:
        d = e.data
        detail = {
            "acquire": lambda: (
                ("acquired" if d.get("acquired") else "not acquired") + f" after {d['wait'] * 1000:.2f} ms"
            ),
            "release": lambda: f"held {d['held'] * 1000:.2f} ms",
            "lost": lambda: f"lost after {d['held'] * 1000:.2f} ms",
            "renew": lambda: f"renewed for {d['ttl']:.1f} s",
        }.get(e.name, lambda: "")()
        return {"alias": e.alias, "name": d.get("name"), "what": e.name, "detail": detail}

    @staticmethod
    def _data(data: dict[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in data.items() if v is not None)
