"""Signal receivers, connected in ``SessionsConfig.ready()``."""

from __future__ import annotations

from typing import Any


def record_login_client(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """At login, give the session the client's IP and browser for the user's session index.

    The session is saved by the middleware after the view (login modified it), which is
    when the index entry is written. With our ``SessionMiddleware`` these are already set.
    """
    from .backend import SessionStore
    from .middleware import client_details

    session = getattr(request, "session", None) if request is not None else None
    if isinstance(session, SessionStore) and session.client_ip is None and session.user_agent is None:
        session.client_ip, session.user_agent = client_details(request)
