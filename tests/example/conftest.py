"""The example site under test: the example's own settings on top of tests/settings.py.

``arcade`` (example_project/arcade) is in tests/settings.py's INSTALLED_APPS, so its models
and migrations are part of the test database. This fixture copies the example's site
settings (URLs, middleware, session engine, REDIS_PATTERNS...) over the test settings and
points ``CACHES["default"]`` at the test topology (standalone unless the test is
parametrized with ``tests.topologies``), emptied before each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from arcade import settings as example

SITE_SETTINGS = (
    "ROOT_URLCONF",
    "MIDDLEWARE",
    "SESSION_ENGINE",
    "SESSION_CACHE_ALIAS",
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
        return Player.objects.create(user=user, score=score, **fields)

    return make
