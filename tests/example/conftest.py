"""The example site under test: the example's own settings on top of tests/settings.py.

``arcade`` (example_project/arcade) is in tests/settings.py's INSTALLED_APPS, so its models
and migrations are part of the test database. This fixture copies the example's site
settings (URLs, middleware, session engine, REDIS_PATTERNS...) over the test settings and
points ``CACHES["default"]`` at the test topology (standalone unless the test is
parametrized with ``tests.topologies``), emptied before each test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

# The example's settings refuse to load without a Redis to name (REDIS_URL or the private server
# of scripts/run-example); this one is never used: arcade_site points CACHES at the test topology.
# The site's toolbar (DEBUG_TOOLBAR) is left out: Django runs tests with DEBUG=False; the browser
# test of the Redis panel (test_debug_toolbar.py) turns it on for itself.
with mock.patch.dict(os.environ, {"REDIS_URL": "redis://127.0.0.1:1/0", "DEBUG_TOOLBAR": "0"}):
    from arcade import settings as example

SITE_SETTINGS = (
    "ROOT_URLCONF",
    "MIDDLEWARE",
    "SESSION_ENGINE",
    "SESSION_CACHE_ALIAS",
    "AUTHENTICATION_BACKENDS",  # sign-up's login() depends on it
    "REDIS_PATTERNS",
    "LOGIN_URL",
    "LOGIN_REDIRECT_URL",
    "LOGOUT_REDIRECT_URL",
    "STATIC_URL",
    "ARCADE_STACK",
)

PASSWORD = "correct-horse-42"


@pytest.fixture(autouse=True)
def arcade_site(topology: Any, settings: Any) -> Iterator[Any]:
    for name in SITE_SETTINGS:
        if hasattr(example, name):
            setattr(settings, name, getattr(example, name))
    settings.ALLOWED_HOSTS = ["*"]
    yield topology


@pytest.fixture
def make_player(django_user_model: Any) -> Any:
    from arcade.models import Player

    def make(username: str, *, score: int = 0, password: str = PASSWORD, **fields: Any) -> Player:
        user = django_user_model.objects.create_user(username=username, password=password)
        return Player.objects.create(user=user, name=username, score=score, **fields)

    return make


@pytest.fixture
def site_server(transactional_db: Any, arcade_site: Any, settings: Any) -> Iterator[Any]:
    """A live server started after the example's settings are applied (pytest-django's
    session-wide ``live_server`` builds its middleware chain once, from whatever settings
    were active when the first test asked for it)."""
    from pathlib import Path

    import django.contrib.admin
    from pytest_django.live_server_helper import LiveServer

    # tests/settings.py has no staticfiles app: serve the admin's CSS straight from Django.
    settings.STATIC_ROOT = str(Path(django.contrib.admin.__file__).parent / "static")

    server = LiveServer("127.0.0.1")
    server._live_server_modified_settings.enable()
    try:
        yield server
    finally:
        server._live_server_modified_settings.disable()
        server.stop()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Any:
    """``artifacts("step")`` -> test-artifacts/example/<test id>-step.png"""
    import re
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "test-artifacts" / "example"
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)

    def path(step: str) -> str:
        return str(folder / f"{stem}-{step}.png")

    return path
