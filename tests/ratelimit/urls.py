from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("plain/", views.plain),
    path("admin/login/", views.plain),
    path("api/items/", views.plain),
    path("api/health/", views.plain),
    path("sync/", views.sync_view),
    path("async/", views.async_view),
    path("report/", views.report_view),
    path("cbv/", views.SyncCBV.as_view()),
    path("acbv/", views.AsyncCBV.as_view()),
    path("callable/", views.callable_rate_view),
]
