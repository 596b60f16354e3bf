"""Period boards: which daily/weekly/monthly board a moment belongs to.

Redis decides the current period (the Lua scripts read ``TIME``); this module only turns an
explicit ``at=`` into the unix time the scripts take, and names periods for display. All
periods are UTC; weeks start on Monday (ISO 8601).
"""

from __future__ import annotations

import calendar
import datetime as dt

KINDS = ("daily", "weekly", "monthly")


def timestamp(at: dt.date | dt.datetime | int | float) -> int:
    """Unix seconds for ``at`` (a date means its start, UTC; naive datetimes are UTC)."""
    if isinstance(at, bool):
        raise TypeError("at must be a date, datetime or unix timestamp")
    if isinstance(at, int | float):
        return int(at)
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        return int(at.timestamp())
    if isinstance(at, dt.date):
        return calendar.timegm(at.timetuple())
    raise TypeError(f"at must be a date, datetime or unix timestamp, got {type(at).__name__}")


def start(kind: str, day: dt.date) -> dt.date:
    """First day of the ``kind`` period containing ``day``."""
    if kind == "daily":
        return day
    if kind == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if kind == "monthly":
        return day.replace(day=1)
    raise ValueError(f"period must be one of {', '.join(KINDS)}, got {kind!r}")


def label(kind: str, day: dt.date) -> str:
    """The key suffix the scripts use, e.g. "weekly:2026-11-23" (the Monday), "monthly:2026-11"."""
    first = start(kind, day)
    return f"{kind}:{first:%Y-%m}" if kind == "monthly" else f"{kind}:{first.isoformat()}"


def recent(kind: str, today: dt.date, n: int) -> list[dt.date]:
    """Start days of the current and the ``n - 1`` previous periods, newest first."""
    out = [start(kind, today)]
    while len(out) < n:
        out.append(start(kind, out[-1] - dt.timedelta(days=1)))
    return out


def stop(kind: str, first: dt.date) -> dt.date:
    """First day after the ``kind`` period that starts on ``first``."""
    if kind == "daily":
        return first + dt.timedelta(days=1)
    if kind == "weekly":
        return first + dt.timedelta(days=7)
    if kind == "monthly":
        return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    raise ValueError(f"period must be one of {', '.join(KINDS)}, got {kind!r}")


def parse(text: str) -> tuple[str, dt.date]:
    """("weekly", its Monday) from a label such as "weekly:2026-11-30" or "monthly:2026-11"."""
    kind, _, day = text.partition(":")
    if kind == "monthly":
        return kind, dt.date.fromisoformat(day + "-01")
    if kind not in KINDS:
        raise ValueError(f"not a period label: {text!r}")
    return kind, dt.date.fromisoformat(day)


def expires_at(kind: str, first: dt.date, retain: int) -> int:
    """Unix time the period's boards expire: ``retain`` periods of its length after its end
    (what the write script gives them)."""
    end = stop(kind, first)
    days = (end - first).days
    return timestamp(end) + retain * days * 86400
