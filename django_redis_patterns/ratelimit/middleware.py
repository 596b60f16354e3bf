"""``RatelimitMiddleware``: enforces RULES from settings, turns ``Ratelimited`` into a 429,
and adds the optional rate-limit headers. Sync and async capable.

Place it after ``AuthenticationMiddleware`` so rules keyed on ``user`` see the user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.module_loading import import_string

from . import core, headers
from .conf import get as settings
from .exceptions import Ratelimited
from .rules import Rule, compile_rules


def limited_view() -> Callable[..., Any]:
    path = settings().VIEW  # django-ratelimit's RATELIMIT_VIEW is an alias of it
    if path is None:
        from .views import ratelimited

        return ratelimited
    return import_string(path) if isinstance(path, str) else path  # type: ignore[no-any-return]


class RatelimitMiddleware:
    """Enforces ``RATELIMIT["RULES"]``, turns ``Ratelimited`` into a 429 (or 503), adds ``HEADERS``.

    Sync and async capable; rules are checked before URL resolution, in order.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[..., Any]):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self._rules_source: Any = None
        self._rules: tuple[Rule, ...] = ()

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The compiled ``RULES``, recompiled when the setting changes."""
        raw = settings().RULES
        if raw is not self._rules_source:  # settings changed (override_settings in tests)
            self._rules = compile_rules(raw)
            self._rules_source = raw
        return self._rules

    def _args(self, rule: Rule) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args = (rule.group, None, rule.key, rule.rate, rule.methods, True)
        return args, {"algorithm": rule.algorithm, "cost": rule.cost, "burst": rule.burst}

    def _respond(self, request: Any, usage: core.Usage) -> Any:
        request.limited = True
        return limited_view()(request, Ratelimited(usage))

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self.__acall__(request)
        for rule in self.rules:
            if rule.applies(request):
                args, options = self._args(rule)
                usage = core.get_usage(request, *args, **options)
                if usage is not None and usage.should_limit:
                    if rule.block:
                        return self._respond(request, usage)
                    request.limited = True
        response = self.get_response(request)
        return headers.apply(response, getattr(request, "ratelimit", None))

    async def __acall__(self, request: Any) -> Any:
        for rule in self.rules:
            if rule.applies(request):
                args, options = self._args(rule)
                usage = await core.aget_usage(request, *args, **options)
                if usage is not None and usage.should_limit:
                    if rule.block:
                        return self._respond(request, usage)
                    request.limited = True
        response = await self.get_response(request)
        return headers.apply(response, getattr(request, "ratelimit", None))

    def process_exception(self, request: Any, exception: Exception) -> Any:
        """Turn ``Ratelimited`` into the limited-request view's response (429, or 503)."""
        if isinstance(exception, Ratelimited):
            return limited_view()(request, exception)
        return None
