"""The default response for a limited request: 429 (503 if Redis was unreachable and the
limiter failed closed), HTML or RFC 9457 ``application/problem+json``, with ``Retry-After``."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils.html import escape

from . import headers
from .conf import get as settings
from .exceptions import Ratelimited

#: Problem type registered by draft-ietf-httpapi-ratelimit-headers.
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"


def wants_json(request: Any) -> bool:
    """Whether the client asked for JSON (``application/problem+json`` or ``application/json``)."""
    accept = request.META.get("HTTP_ACCEPT", "")
    return "application/problem+json" in accept or "application/json" in accept


def ratelimited(request: Any, exception: Ratelimited | None = None) -> HttpResponse:
    """The default limited-request view: 429 (503 when Redis was unreachable) with ``Retry-After``.

    RFC 9457 ``application/problem+json`` when the client asks for JSON, else a small HTML page.
    """
    usage = getattr(exception, "usage", None) or getattr(request, "ratelimit", None)
    unavailable = bool(usage is not None and usage.unavailable)
    status = settings().UNAVAILABLE_STATUS if unavailable else 429
    if unavailable:
        title, detail = "Service Unavailable", "The rate limiter is unavailable; try again shortly."
    else:
        title, detail = "Too Many Requests", "You have exceeded the rate limit for this resource."
    if wants_json(request):
        body: dict[str, Any] = {"type": QUOTA_EXCEEDED if not unavailable else "about:blank", "title": title}
        body.update(status=status, detail=detail)
        if usage is not None:
            body["retry_after"] = usage.retry_after
        response = HttpResponse(json.dumps(body), status=status, content_type="application/problem+json")
    else:
        html = f"<!doctype html><title>{status} {escape(title)}</title><h1>{escape(title)}</h1><p>{escape(detail)}</p>"
        response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    if usage is not None:
        response.headers["Retry-After"] = headers.retry_after(usage)
        headers.apply(response, usage)
    else:
        response.headers["Retry-After"] = "1"
    return response
