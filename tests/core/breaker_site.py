"""A page that touches a session, a rate limit and the cache: what a hung Redis costs a request."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_redis_patterns.ratelimit import ratelimit


@ratelimit(key="ip", rate="1000/m")
def page(request: HttpRequest) -> JsonResponse:
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    return JsonResponse({"visits": visits, "banner": cache.get("banner", "no banner")})


@ratelimit(key="ip", rate="1000/m")
async def apage(request: HttpRequest) -> JsonResponse:
    session = request.session
    if hasattr(session, "aget"):  # Django >= 5.0
        visits = (await session.aget("visits", 0)) + 1
        await session.aset("visits", visits)
    else:  # Django 4.2 sessions have no async API
        visits = (await sync_to_async(session.get)("visits", 0)) + 1
        await sync_to_async(session.__setitem__)("visits", visits)
    return JsonResponse({"visits": visits, "banner": await cache.aget("banner", "no banner")})


urlpatterns = [path("page/", page), path("apage/", apage)]
