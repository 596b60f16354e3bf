from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from django_redis_patterns import get_redis


def home(request: HttpRequest) -> HttpResponse:
    visits = get_redis().incr("arcade:home:visits")
    return render(request, "arcade/home.html", {"visits": visits})
