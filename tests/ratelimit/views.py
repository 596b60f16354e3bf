"""Views used by the rate-limiting tests (sync, async, class-based, django-ratelimit style)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View

from django_redis_patterns.ratelimit import ratelimit

DAY = "3/d"


def plain(request: Any) -> HttpResponse:
    return HttpResponse("ok")


@ratelimit(key="ip", rate=DAY)
def sync_view(request: Any) -> HttpResponse:
    return HttpResponse("ok")


@ratelimit(key="ip", rate=DAY)
async def async_view(request: Any) -> HttpResponse:
    return HttpResponse("ok")


@ratelimit(key="ip", rate=DAY, block=False)
def report_view(request: Any) -> JsonResponse:
    usage = request.ratelimit
    return JsonResponse({"limited": request.limited, "remaining": usage.remaining, "limit": usage.limit})


@method_decorator(ratelimit(key="ip", rate=DAY, method="POST"), name="post")
class SyncCBV(View):
    def get(self, request: Any) -> HttpResponse:
        return HttpResponse("get")

    def post(self, request: Any) -> HttpResponse:
        return HttpResponse("post")


@method_decorator(ratelimit(key="ip", rate=DAY), name="get")
class AsyncCBV(View):
    async def get(self, request: Any) -> HttpResponse:
        return HttpResponse("async get")


def staff_unlimited(group: str, request: Any) -> str | None:
    return None if request.META.get("HTTP_X_STAFF") == "yes" else "2/d"


@ratelimit(key="ip", rate=staff_unlimited)
def callable_rate_view(request: Any) -> HttpResponse:
    return HttpResponse("ok")
