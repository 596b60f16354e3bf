"""``include("django_redis_patterns.sessions.urls")``: the "your devices" page and its actions."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "redis_sessions"
urlpatterns = [
    path("", views.devices, name="devices"),
    path("revoke/", views.revoke, name="revoke"),
    path("logout-others/", views.logout_others, name="logout_others"),
]
