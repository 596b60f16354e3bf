"""URLs for the request-level session tests."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def login_view(request: HttpRequest) -> HttpResponse:
    user = get_user_model().objects.get(username=request.POST["username"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return HttpResponse("ok")


def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("bye")


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "authenticated": request.user.is_authenticated,
            "username": request.user.get_username() if request.user.is_authenticated else None,
            "session_key": request.session.session_key,
        }
    )


def bump(request: HttpRequest) -> JsonResponse:
    request.session["n"] = request.session.get("n", 0) + 1
    return JsonResponse({"n": request.session["n"]})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", login_view),
    path("logout/", logout_view),
    path("whoami/", whoami),
    path("bump/", bump),
    path("devices/", include("django_redis_patterns.sessions.urls")),
]
