from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

login_view = auth_views.LoginView.as_view(template_name="arcade/login.html")
if getattr(settings, "ARCADE_STACK", "patterns") == "today":  # the load benchmark's baseline: django-ratelimit on login
    from .today import ratelimit

    login_view = ratelimit(key="ip", rate="10/m", method="POST", group="login")(login_view)

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", login_view, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("play/", views.play, name="play"),
    path("api/play", views.api_play, name="api_play"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("seasons/", views.seasons, name="seasons"),
    path("devices/", views.devices, name="devices"),
    path("devices/logout-others/", views.logout_others, name="logout_others"),
    path("devices/revoke/", views.revoke_session_view, name="revoke_session"),
    path("admin/", admin.site.urls),
    path("metrics", views.metrics, name="metrics"),
]

if "debug_toolbar" in settings.INSTALLED_APPS:  # DEBUG with django-debug-toolbar (see settings.py)
    from debug_toolbar.toolbar import debug_toolbar_urls

    urlpatterns += debug_toolbar_urls()
