"""Signals sent by locks.

All are sent with ``sender`` = the lock's class (``Lock``, ``AsyncLock`` or ``Redlock``) and
keyword arguments ``name`` (the lock name) and ``handle`` (the :class:`LockHandle`).
``lock_lost`` is sent from the renewer (a thread or a task) or from ``release()``, the
moment the loss is noticed.
"""

from __future__ import annotations

from django.dispatch import Signal

lock_acquired = Signal()
lock_released = Signal()
lock_lost = Signal()
