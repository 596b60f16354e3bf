"""``@ratelimit``: django-ratelimit's decorator (same arguments) plus ``algorithm`` and ``cost``.

Works on plain views, on ``async def`` views (natively on ``redis.asyncio``) and on
class-based views through ``method_decorator``::

    @ratelimit(key="user_or_ip", rate="10/m", method="POST")
    def submit(request): ...

    @method_decorator(ratelimit(key="ip", rate="100/h"), name="get")
    class Feed(View): ...
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction

from . import core
from .algorithms import get as get_algorithm
from .exceptions import Ratelimited
from .keys import key_function

F = TypeVar("F", bound=Callable[..., Any])


def _is_async(fn: Any) -> bool:
    # method_decorator hands us functools.partial(bound method): look through both, since
    # inspect does not see an async def behind a partial of a bound method.
    inner = fn
    while True:
        if isinstance(inner, functools.partial):
            inner = inner.func
        elif inspect.ismethod(inner):
            inner = inner.__func__
        else:
            break
    return iscoroutinefunction(fn) or iscoroutinefunction(inner)


def _block(request: Any, usage: Any) -> None:
    from django.conf import settings
    from django.utils.module_loading import import_string

    # django-ratelimit's RATELIMIT_EXCEPTION_CLASS keeps working.
    cls = getattr(settings, "RATELIMIT_EXCEPTION_CLASS", None)
    if cls is None:
        raise Ratelimited(usage)
    cls = import_string(cls) if isinstance(cls, str) else cls
    exc = cls()
    exc.usage = usage
    raise exc


def ratelimit(
    group: str | None = None,
    key: Any = None,
    rate: Any = None,
    method: Any = core.ALL,
    block: bool = True,
    algorithm: str | None = None,
    cost: int = 1,
    *,
    burst: int | None = None,
    using: str | None = None,
) -> Callable[[F], F]:
    """Limit a view. ``block=False`` only sets ``request.limited``; usage is on ``request.ratelimit``."""
    if key is not None:
        key_function(key)  # a bad key fails at import time, not on the first request
    if algorithm is not None:
        get_algorithm(algorithm)
    if rate is not None and not callable(rate):
        from .rates import parse

        if not (isinstance(rate, str) and "/" not in rate and "." in rate):
            parse(rate)

    def decorator(fn: F) -> F:
        options: dict[str, Any] = {"algorithm": algorithm, "cost": cost, "burst": burst, "using": using}

        if _is_async(fn):

            @functools.wraps(fn)
            async def awrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
                usage = await core.aget_usage(request, group, fn, key, rate, method, True, **options)
                limited = usage is not None and usage.should_limit
                request.limited = limited or getattr(request, "limited", False)
                if limited and block:
                    _block(request, usage)
                return await fn(request, *args, **kwargs)

            return awrapped  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            usage = core.get_usage(request, group, fn, key, rate, method, True, **options)
            limited = usage is not None and usage.should_limit
            request.limited = limited or getattr(request, "limited", False)
            if limited and block:
                _block(request, usage)
            return fn(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


# django-ratelimit exposes these on the decorator too: ``ratelimit.ALL``, ``ratelimit.UNSAFE``.
ratelimit.ALL = core.ALL  # type: ignore[attr-defined]
ratelimit.UNSAFE = core.UNSAFE  # type: ignore[attr-defined]
