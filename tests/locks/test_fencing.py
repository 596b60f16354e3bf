"""fenced_update: a stale holder's late write is rejected by the database."""

from __future__ import annotations

from typing import Any

import pytest

from django_redis_patterns import get_redis
from django_redis_patterns.locks import LockError, fenced_update, lock
from django_redis_patterns.locks.core import LockKeys
from tests.locks_app.models import Account


@pytest.mark.postgres
@pytest.mark.django_db
def test_stale_holder_write_is_rejected(topology: Any) -> None:
    account = Account.objects.create(balance=100)
    rows = Account.objects.filter(pk=account.pk)
    stale = lock(f"account:{account.pk}", ttl=5)
    assert stale.acquire()
    stale_handle = stale.handle()
    # The stale holder stalls; its lock expires and a new holder writes first.
    get_redis().delete(LockKeys.for_name(f"account:{account.pk}").lock)
    with lock(f"account:{account.pk}", ttl=5) as fresh:
        assert fenced_update(rows, fresh, balance=150) == 1
        assert fenced_update(rows, fresh.fencing_token, balance=175) == 0  # strictly lower only
        assert fenced_update(rows, fresh.fencing_token, or_equal=True, balance=175) == 1
    assert fenced_update(rows, stale_handle, balance=90) == 0
    account.refresh_from_db()
    assert (account.balance, account.fence) == (175, fresh.fencing_token)


@pytest.mark.django_db
def test_fenced_update_rejects_bad_tokens() -> None:
    with pytest.raises(LockError, match="token"):
        fenced_update(Account.objects.all(), "7", balance=1)
    with pytest.raises(LockError, match="fence"):
        fenced_update(Account.objects.all(), 3, fence=4)
