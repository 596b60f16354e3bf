"""The arcade's URLs plus django-debug-toolbar's (the arcade adds them itself when DEBUG)."""

from __future__ import annotations

from arcade.urls import urlpatterns as site
from debug_toolbar.toolbar import debug_toolbar_urls

urlpatterns = [*site, *debug_toolbar_urls()]
