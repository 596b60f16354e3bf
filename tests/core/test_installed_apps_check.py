"""``manage.py check`` on real, minimal projects (a settings module written for each case):
a pattern wired in without its app (redis_patterns.E006), and ``check --deploy``'s session
cookie warnings when django.contrib.sessions is absent (redis_patterns.W012/W013)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORE = "django_redis_patterns"
CACHE_APP = "django_redis_patterns.cache"
OUR_ENGINE = "django_redis_patterns.sessions.backend"
OUR_SESSION_MW = "django_redis_patterns.sessions.middleware.SessionMiddleware"
BASE_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]


def manage_check(
    tmp_path: Path,
    *,
    deploy: bool = False,
    shop_admin: bool = False,
    modules: dict[str, str] | None = None,
    **settings: object,
) -> list[str]:
    """Run ``django-admin check`` on a project with these settings; the ids and lines it reports."""
    values: dict[str, object] = {
        "SECRET_KEY": "k" * 60,
        "DEBUG": False,
        "ALLOWED_HOSTS": ["example.com"],
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        "CACHES": {
            "default": {"BACKEND": "django_redis_patterns.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
        },
        "USE_TZ": True,
        "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
        "MIDDLEWARE": [],
        **settings,
    }
    body = "".join(f"{name} = {value!r}\n" for name, value in values.items())
    (tmp_path / "case_settings.py").write_text(body)
    for name, code in (modules or {}).items():  # the project's own modules
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
    if shop_admin:  # an app of the project whose ModelAdmin uses LeaderboardAdminMixin
        shop = tmp_path / "shop"
        shop.mkdir()
        (shop / "__init__.py").write_text("")
        (shop / "models.py").write_text(
            "from django.db import models\n\nclass Product(models.Model):\n    name = models.CharField(max_length=9)\n"
        )
        (shop / "admin.py").write_text(
            textwrap.dedent("""\
                from django.contrib import admin
                from django_redis_patterns.leaderboard.admin import LeaderboardAdminMixin
                from .models import Product

                @admin.register(Product)
                class ProductAdmin(LeaderboardAdminMixin, admin.ModelAdmin):
                    pass
            """)
        )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "case_settings", "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    command = [sys.executable, "-m", "django", "check", *(["--deploy"] if deploy else [])]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    return [line.strip() for line in output.splitlines() if re.search(r"\((redis_patterns|security)\.\w+\)", line)]


def ids(lines: list[str]) -> list[str]:
    return sorted(re.search(r"\(([\w.]+)\)", line).group(1) for line in lines)  # type: ignore[union-attr]


def test_our_session_engine_without_the_sessions_app(tmp_path: Path) -> None:
    lines = manage_check(tmp_path, INSTALLED_APPS=[*BASE_APPS, CORE, CACHE_APP], SESSION_ENGINE=OUR_ENGINE)
    assert ids(lines) == ["redis_patterns.E006"], lines
    assert "SESSION_ENGINE uses 'django_redis_patterns.sessions'" in lines[0]


def test_cached_model_backend_without_the_sessions_app(tmp_path: Path) -> None:
    backends = ["django_redis_patterns.sessions.auth.CachedModelBackend"]
    lines = manage_check(tmp_path, INSTALLED_APPS=[*BASE_APPS, CORE, CACHE_APP], AUTHENTICATION_BACKENDS=backends)
    assert ids(lines) == ["redis_patterns.E006"], lines
    assert "AUTHENTICATION_BACKENDS" in lines[0] and "'django_redis_patterns.sessions'" in lines[0]


def test_middleware_admin_mixin_and_backend_without_their_apps(tmp_path: Path) -> None:
    apps = [
        "django.contrib.admin",
        *BASE_APPS,
        "django.contrib.messages",
        "django.contrib.sessions",
        CORE,
        "shop",
    ]
    lines = manage_check(
        tmp_path,
        shop_admin=True,
        INSTALLED_APPS=apps,
        MIDDLEWARE=["django_redis_patterns.ratelimit.middleware.RatelimitMiddleware"],
    )
    ours = [line for line in lines if "redis_patterns.E006" in line]
    assert len(ours) == 3, lines
    text = "\n".join(ours)
    assert (
        "MIDDLEWARE (django_redis_patterns.ratelimit.middleware.RatelimitMiddleware) uses "
        "'django_redis_patterns.ratelimit'" in text
    )
    assert "the admin of shop.Product (ProductAdmin) uses 'django_redis_patterns.leaderboard'" in text
    assert "CACHES['default']['BACKEND'] uses 'django_redis_patterns.cache'" in text


def test_the_missing_core_app_is_reported_by_a_pattern_app(tmp_path: Path) -> None:
    apps = [*BASE_APPS, "django_redis_patterns.cache", "django_redis_patterns.sessions"]
    lines = manage_check(tmp_path, INSTALLED_APPS=apps, SESSION_ENGINE=OUR_ENGINE)
    assert ids(lines) == ["redis_patterns.E006"], lines
    assert "uses 'django_redis_patterns', which is not in INSTALLED_APPS" in lines[0]


def test_everything_installed_reports_nothing(tmp_path: Path) -> None:
    apps = [
        *BASE_APPS,
        CORE,
        "django_redis_patterns.cache",
        "django_redis_patterns.sessions",
        "django_redis_patterns.ratelimit",
    ]
    lines = manage_check(
        tmp_path,
        INSTALLED_APPS=apps,
        SESSION_ENGINE=OUR_ENGINE,
        MIDDLEWARE=[OUR_SESSION_MW, "django_redis_patterns.ratelimit.middleware.RatelimitMiddleware"],
        AUTHENTICATION_BACKENDS=["django_redis_patterns.sessions.auth.CachedModelBackend"],
    )
    assert lines == []


SESSIONS_WITHOUT_DJANGOS_APP = {
    "INSTALLED_APPS": [*BASE_APPS, CORE, "django_redis_patterns.cache", "django_redis_patterns.sessions"],
    "SESSION_ENGINE": OUR_ENGINE,
    "MIDDLEWARE": [OUR_SESSION_MW],
}


@pytest.mark.parametrize("secure, httponly", [(False, False), (True, False), (False, True), (True, True)])
def test_deploy_session_cookie_warnings_without_djangos_sessions_app(
    tmp_path: Path, secure: bool, httponly: bool
) -> None:
    lines = manage_check(
        tmp_path,
        deploy=True,
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=httponly,
        **SESSIONS_WITHOUT_DJANGOS_APP,  # type: ignore[arg-type]
    )
    found = ids(lines)
    assert not any(i in found for i in ("security.W010", "security.W011", "security.W012", "security.W013"))
    assert ("redis_patterns.W012" in found) is not secure, lines
    assert ("redis_patterns.W013" in found) is not httponly, lines


def test_no_duplicate_when_djangos_sessions_app_is_installed(tmp_path: Path) -> None:
    settings = {
        **SESSIONS_WITHOUT_DJANGOS_APP,
        "INSTALLED_APPS": [*BASE_APPS, "django.contrib.sessions", CORE, "django_redis_patterns.sessions"],
    }
    lines = manage_check(tmp_path, deploy=True, SESSION_COOKIE_HTTPONLY=False, **settings)  # type: ignore[arg-type]
    found = ids(lines)
    assert "security.W010" in found and "security.W013" in found  # Django's own
    assert "redis_patterns.W012" not in found and "redis_patterns.W013" not in found


def test_deploy_warnings_see_subclasses_of_our_engine_and_middleware(tmp_path: Path) -> None:
    modules = {
        "my_engine": """\
            from django_redis_patterns.sessions.backend import SessionStore as Base

            class SessionStore(Base):
                pass
        """,
        "my_middleware": """\
            from django_redis_patterns.sessions.middleware import SessionMiddleware

            class Sessions(SessionMiddleware):
                pass
        """,
    }
    settings = {**SESSIONS_WITHOUT_DJANGOS_APP, "SESSION_ENGINE": "my_engine", "MIDDLEWARE": ["my_middleware.Sessions"]}
    lines = manage_check(tmp_path, deploy=True, modules=modules, **settings)  # type: ignore[arg-type]
    assert ids(lines).count("redis_patterns.W012") == 1, lines
