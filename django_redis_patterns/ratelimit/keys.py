"""What a limit counts by: ``key="ip"``, ``"user"``, ``"header:x-api-key"``, a callable...

The names and meanings are django-ratelimit's, plus ``"username"`` (and
:func:`normalized_post`): a login form's username as Django's authentication will see it.
A key function returns the string that identifies the bucket, or ``None`` to not limit
this request at all.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

from django.utils.module_loading import import_string

from .clientip import client_ip
from .exceptions import RatelimitConfigError

KeyFunc = Callable[[str, Any], Any]
KeyArg = str | KeyFunc


def _user(group: str, request: Any) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        # django-ratelimit's behaviour: every anonymous visitor shares one bucket.
        # Prefer "user_or_ip" for views anonymous visitors can reach.
        return "anonymous"
    return str(user.pk)


def _user_or_ip(group: str, request: Any) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return str(user.pk)
    return client_ip(request)


def normalize_username(value: Any, *, casefold: bool = False) -> str:
    """A submitted username as Django's ``AuthenticationForm`` passes it to ``authenticate()``.

    ``UsernameField`` strips surrounding whitespace (``CharField(strip=True)``), then applies
    Unicode NFKC (as ``AbstractBaseUser.normalize_username`` does when users are saved), so
    ``" ada"``, ``"ada\t"`` and the full-width ``"ａｄａ"`` all log in as ``ada``: they must
    count as one account. ``casefold=True`` also folds case, for user models whose username
    lookup is case-insensitive (Django's default ``User`` is case-sensitive).
    """
    text = unicodedata.normalize("NFKC", str(value).strip())
    return text.casefold() if casefold else text


def normalized_post(field: str = "username", *, casefold: bool = False) -> KeyFunc:
    """A key function: POST ``field`` normalised by :func:`normalize_username`.

    ``key="username"`` is ``normalized_post("username")``; use this for a form whose field
    has another name, or with ``casefold=True`` for a case-insensitive user model.
    """
    if not isinstance(field, str) or not field:
        raise RatelimitConfigError(f"normalized_post(): field must be a non-empty str, got {field!r}")

    def key(group: str, request: Any) -> str:
        return normalize_username(request.POST.get(field, ""), casefold=casefold)

    return key


SIMPLE_KEYS: dict[str, KeyFunc] = {
    "ip": lambda group, request: client_ip(request),
    "user": _user,
    "user_or_ip": _user_or_ip,
    "username": normalized_post("username"),
}


def _accessor(kind: str, name: str) -> KeyFunc:
    if kind == "header":
        meta = "HTTP_" + name.upper().replace("-", "_")
        return lambda group, request: request.META.get(meta, "")
    if kind == "get":
        return lambda group, request: request.GET.get(name, "")
    if kind == "post":
        return lambda group, request: request.POST.get(name, "")
    raise RatelimitConfigError(f"key {kind + ':' + name!r}: unknown kind {kind!r}; use header:, get: or post:")


def key_function(key: KeyArg) -> KeyFunc:
    """Turn a ``key=`` argument into a function ``(group, request) -> str | None``."""
    if callable(key):
        return key
    if not isinstance(key, str) or not key:
        raise RatelimitConfigError(
            f"key {key!r}: use 'ip', 'user', 'user_or_ip', 'username', 'header:<name>', 'get:<name>', "
            "'post:<name>', a callable (group, request) or a dotted path to one"
        )
    if key in SIMPLE_KEYS:
        return SIMPLE_KEYS[key]
    if ":" in key:
        kind, _, name = key.partition(":")
        if not name:
            raise RatelimitConfigError(f"key {key!r} names no header/parameter after ':'")
        return _accessor(kind, name)
    if "." in key:
        try:
            func = import_string(key)
        except ImportError as exc:
            raise RatelimitConfigError(f"key {key!r} cannot be imported: {exc}")
        if not callable(func):
            raise RatelimitConfigError(f"key {key!r} is not callable")
        return func  # type: ignore[no-any-return]
    raise RatelimitConfigError(
        f"key {key!r} is unknown; use 'ip', 'user', 'user_or_ip', 'username', 'header:<name>', 'get:<name>', "
        "'post:<name>', a callable (group, request) or a dotted path to one"
    )
