"""key="username": a login limit per account counts every spelling Django logs in as that account."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from django_redis_patterns.ratelimit import (
    Limiter,
    RatelimitConfigError,
    normalize_username,
    normalized_post,
    ratelimit,
)


def spellings() -> list[str]:
    """64 spellings of "ada": 8 full-width/ASCII mixes x 8 paddings (ASCII and Unicode spaces)."""
    wide = {"a": "\uff41", "d": "\uff44"}
    forms = ["".join(chars) for chars in itertools.product(*[(c, wide[c]) for c in "ada"])]
    pads = [
        ("", ""),
        (" ", ""),
        ("", " "),
        ("\t", "\n"),
        ("\u00a0", ""),
        ("", "\u3000"),
        ("  ", "  "),
        ("\u2003", "\r\n"),
    ]
    return [f"{left}{form}{right}" for form in forms for left, right in pads]


def test_the_spellings_are_one_account_for_django() -> None:
    names = spellings()
    assert len(set(names)) == 64
    field = AuthenticationForm().fields["username"]
    assert {field.clean(name) for name in names} == {"ada"}  # what authenticate() receives
    assert {normalize_username(name) for name in names} == {"ada"}


def _login_view(key: Any) -> Any:
    reached: list[str] = []

    @ratelimit(group="login", key=key, rate="5/m", method="POST", block=True)
    def login(request: Any) -> HttpResponse:
        reached.append(request.POST["username"])  # the password check would run here
        return HttpResponse("checked")

    return login, reached


def _attempt(view: Any, rf: RequestFactory, username: str, ip: int) -> bool:
    request = rf.post("/login/", {"username": username, "password": "guess"}, REMOTE_ADDR=f"198.51.100.{ip}")
    request.user = AnonymousUser()
    try:
        view(request)
    except PermissionDenied:
        return False
    return True


def test_64_spellings_of_one_username_reach_the_view_exactly_the_limit(topology: Any, rf: RequestFactory) -> None:
    view, reached = _login_view("username")
    allowed = sum(_attempt(view, rf, name, ip) for ip, name in enumerate(spellings()))
    assert allowed == 5 and len(reached) == 5
    assert _attempt(view, rf, "bob", 200)  # another account has its own bucket


def test_raw_post_key_counts_each_spelling_apart(topology: Any, rf: RequestFactory) -> None:
    """Why the recipe is key="username": the raw field gives every spelling a fresh bucket."""
    view, _ = _login_view("post:username")
    assert sum(_attempt(view, rf, name, ip) for ip, name in enumerate(spellings())) == 64


@pytest.mark.urls("tests.ratelimit.urls")
def test_middleware_rule_with_the_username_key(topology: Any, client: Any, settings: Any) -> None:
    rule = {"path": "/admin/login/", "methods": ["POST"], "key": "username", "rate": "5/m"}
    settings.REDIS_PATTERNS = {"RATELIMIT": {"RULES": [rule]}}
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django_redis_patterns.ratelimit.middleware.RatelimitMiddleware"]
    form = {"password": "x"}
    statuses = [client.post("/admin/login/", {**form, "username": name}).status_code for name in spellings()]
    assert sum(status != 429 for status in statuses) == 5


def test_casefold_is_opt_in(topology: Any, rf: RequestFactory) -> None:
    assert normalize_username(" ＡＤＡ ") == "ADA"
    assert normalize_username(" ＡＤＡ ", casefold=True) == "ada"
    view, _ = _login_view(normalized_post("username", casefold=True))
    assert (
        sum(_attempt(view, rf, name, i) for i, name in enumerate(["Ada", "ADA", " ａｄａ", "aDa", "ada", "ADA "])) == 5
    )
    limiter = Limiter()
    for name in ("Ada", "ada"):
        limiter.hit(f"login-fail:{normalize_username(name)}", "1/m")
    assert limiter.peek(f"login-fail:{normalize_username('Ada')}", "1/m").allowed is False
    assert limiter.peek(f"login-fail:{normalize_username('ADA')}", "1/m").allowed is True  # case-sensitive by default
    with pytest.raises(RatelimitConfigError, match="field"):
        normalized_post("")
