"""Fencing tokens for Django models: reject a stale lock holder's late write.

A holder that stalls (GC pause, SIGSTOP, a slow network) can lose its lock without knowing
and write after the next holder did. Store the fencing token of the write in the row, and
only write when the row's token is lower::

    class Account(models.Model):
        balance = models.IntegerField(default=0)
        fence = FencingTokenField()

    with lock(f"account:{pk}", ttl=10) as held:
        balance = compute()
        if not fenced_update(Account.objects.filter(pk=pk), held.fencing_token, balance=balance):
            raise LockLost("a newer holder already wrote this account")
"""

from __future__ import annotations

from typing import Any

from django.db import models

from .exceptions import LockError


class FencingTokenField(models.BigIntegerField):
    """A ``BigIntegerField`` defaulting to 0: the fencing token of the row's last fenced write."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("default", 0)
        super().__init__(*args, **kwargs)


def fenced_update(
    queryset: models.QuerySet[Any], token: Any, *, fence_field: str = "fence", or_equal: bool = False, **fields: Any
) -> int:
    """``UPDATE`` the rows of ``queryset`` whose ``fence_field`` is lower than ``token``.

    Sets ``fields`` and stores ``token`` in ``fence_field`` in the same statement, so the
    check and the write cannot interleave with another writer. ``token`` is an int or a
    lock handle (its ``fencing_token`` is used). ``or_equal=True`` also accepts rows
    written with the same token (one holder writing the same row twice). Rows whose fence
    is NULL count as never fenced. Returns the number of rows updated: 0 means a newer
    holder got there first (or no row matched).
    """
    if hasattr(token, "fencing_token"):
        token = token.fencing_token
    if isinstance(token, bool) or not isinstance(token, int) or token < 1:
        raise LockError(f"token must be a fencing token (a positive int or a lock handle), got {token!r}")
    if fence_field in fields:
        raise LockError(f"fenced_update sets {fence_field!r} itself; do not pass it in **fields")
    lookup = "lte" if or_equal else "lt"
    condition = models.Q(**{f"{fence_field}__{lookup}": token}) | models.Q(**{f"{fence_field}__isnull": True})
    return int(queryset.filter(condition).update(**{fence_field: token}, **fields))
