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


@csrf_exempt
def signup_view(request: HttpRequest) -> HttpResponse:
    """What a project's own sign-up view does: no ``backend=`` (one backend is listed), unless
    the test names one (``backend`` in the form: what two listed backends require)."""
    user = get_user_model().objects.create_user(request.POST["username"], password=request.POST["password"])
    login(request, user, backend=request.POST.get("backend"))
    return HttpResponse("welcome")


def perms(request: HttpRequest) -> JsonResponse:
    """What the logged-in user may do, through Django's permission API (the backend answers)."""
    user = request.user
    asked = request.GET.get("perm", "testapp.change_profile")
    return JsonResponse(
        {
            "has_perm": user.has_perm(asked),
            "has_module_perms": user.has_module_perms(asked.split(".")[0]),
            "all": sorted(user.get_all_permissions()),
            "user": sorted(user.get_user_permissions()),
            "group": sorted(user.get_group_permissions()),
        }
    )


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
    path("signup/", signup_view),
    path("perms/", perms),
    path("logout/", logout_view),
    path("whoami/", whoami),
    path("bump/", bump),
    path("devices/", include("django_redis_patterns.sessions.urls")),
]
