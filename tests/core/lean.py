"""Markers for tests of one lean client: they run where the installed redis-py has what that
client relies on (``django_redis_patterns.client.compat``), and say why not elsewhere.

The version matrix (``nox -s redis_py``) runs them on every redis-py where the client is on;
``tests/core/test_compat.py`` covers the "off" state on every version.
"""

from __future__ import annotations

import pytest

from django_redis_patterns.client import compat


def requires_lean(kind: compat.LeanKind) -> pytest.MarkDecorator:
    usable, why = compat.lean_status(kind)
    return pytest.mark.skipif(not usable, reason=f"the lean {kind} client is off here: {why}")
