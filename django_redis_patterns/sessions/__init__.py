"""Redis sessions (django_redis_patterns.sessions).

``SESSION_ENGINE = "django_redis_patterns.sessions.backend"``; a user's sessions with
:func:`user_sessions`, :func:`revoke_session` and :func:`logout_everywhere`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SessionNotReplicated",
    "SessionUnavailable",
    "UserSession",
    "alogout_everywhere",
    "arevoke_session",
    "auser_sessions",
    "logout_everywhere",
    "revoke_session",
    "user_sessions",
]


def __getattr__(name: str) -> Any:
    # Lazy: importing the app package must not import models/settings-dependent code.
    if name in ("SessionNotReplicated", "SessionUnavailable"):
        from . import errors

        return getattr(errors, name)
    if name in __all__:
        from . import index

        return getattr(index, name)
    raise AttributeError(name)
