"""\"Your devices\": a page listing the signed-in user's sessions, with log-out buttons.

Either include the URLs (template ``redis_sessions/devices.html``, which extends
``redis_sessions/base.html``: override that one to put it in your layout)::

    path("account/devices/", include("django_redis_patterns.sessions.urls")),

or render your own template with :func:`devices_context` (``sessions``: list of
:class:`~.index.UserSession`, each with ``.current``, ``.ref``, ``.ip``,
``.user_agent``, ``.last_seen``...) and post ``session=<ref>`` to :func:`revoke` /
anything to :func:`logout_others`. Pages show ``ref`` (a hash), never session keys.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from .index import logout_everywhere, revoke_session, user_sessions


def devices_context(request: HttpRequest) -> dict[str, Any]:
    """Template context for a "your devices" page of ``request.user``."""
    sessions = user_sessions(request.user, current=request)
    return {"sessions": sessions, "other_sessions": [s for s in sessions if not s.current]}


@login_required
def devices(request: HttpRequest) -> HttpResponse:
    """The "your devices" page of the logged-in user (``redis_sessions/devices.html``)."""
    return render(request, "redis_sessions/devices.html", devices_context(request))


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = resolve_url("redis_sessions:devices")
    return HttpResponseRedirect(target)


@require_POST
@login_required
def revoke(request: HttpRequest) -> HttpResponse:
    """Log out one of the user's other sessions: POST ``session=<ref>``."""
    ref = request.POST.get("session", "")
    if ref and revoke_session(request.user, ref):
        messages.success(request, _("That device was logged out."))
    return _back(request)


@require_POST
@login_required
def logout_others(request: HttpRequest) -> HttpResponse:
    """Log out every session of the user except this one."""
    count = logout_everywhere(request.user, keep=request)
    messages.success(request, ngettext("%d other device logged out.", "%d other devices logged out.", count) % count)
    return _back(request)
