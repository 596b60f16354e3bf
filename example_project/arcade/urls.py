from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(template_name="arcade/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("play/", views.play, name="play"),
    path("api/play", views.api_play, name="api_play"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("seasons/", views.seasons, name="seasons"),
    path("devices/", views.devices, name="devices"),
    path("devices/logout-others/", views.logout_others, name="logout_others"),
    path("devices/revoke/", views.revoke_session, name="revoke_session"),
    path("admin/", admin.site.urls),
]
