"""``SessionMiddleware`` that also feeds the per-user session index.

Use it *instead of* ``django.contrib.sessions.middleware.SessionMiddleware`` (same
place in ``MIDDLEWARE``) to record each session's IP address and browser and keep
"last seen" current. Without it the engine still works and still indexes sessions;
IP and browser are then those of the login (recorded by a ``user_logged_in``
receiver) and "last seen" moves only when the session is saved.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse

from .backend import SessionStore
from .runtime import current


def client_details(request: HttpRequest) -> tuple[str | None, str | None]:
    """(IP, user agent) of a request, as the index records them."""
    get_ip = current().client_ip
    ip = get_ip(request) if get_ip is not None else request.META.get("REMOTE_ADDR")
    return ip, request.META.get("HTTP_USER_AGENT")


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's ``SessionMiddleware`` that also feeds the per-user session index.

    Hands each session the request's IP address and user agent, and refreshes "last seen"
    (at most once per ``INDEX_REFRESH``) on requests that read the session without saving it.
    """

    def process_request(self, request: HttpRequest) -> None:
        """Django's, plus the request's IP and user agent for the session index."""
        super().process_request(request)
        session: Any = request.session
        if isinstance(session, SessionStore):
            session.client_ip, session.user_agent = client_details(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session: Any = getattr(request, "session", None)
        saving = session is not None and (session.modified or _save_every_request())
        response = super().process_response(request, response)
        if isinstance(session, SessionStore) and session.accessed and not saving and response.status_code < 500:
            session.touch_index()  # a read-only request still counts as "seen" (at most once per INDEX_REFRESH)
        return response


def _save_every_request() -> bool:
    from django.conf import settings

    return bool(settings.SESSION_SAVE_EVERY_REQUEST)
