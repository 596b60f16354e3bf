"""The decorator on sync, async and class-based views; get_usage/is_ratelimited; keys."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from django_redis_patterns.ratelimit import (
    ALL,
    UNSAFE,
    RatelimitConfigError,
    Ratelimited,
    Usage,
    aget_usage,
    get_usage,
    is_ratelimited,
    ratelimit,
)

from . import views


def req(rf: RequestFactory, method: str = "get", ip: str = "198.51.100.7", **extra: Any) -> Any:
    request = getattr(rf, method)("/x/", REMOTE_ADDR=ip, **extra)
    request.user = AnonymousUser()
    return request


def test_sync_view_blocks_after_limit_with_usage_on_exception(topology: Any, rf: RequestFactory) -> None:
    for _ in range(3):
        assert views.sync_view(req(rf)).status_code == 200
    with pytest.raises(Ratelimited) as info:
        views.sync_view(req(rf))
    assert isinstance(info.value, PermissionDenied)
    usage = info.value.usage
    assert usage is not None and not usage.allowed and usage.limit == 3 and usage.retry_after > 0
    # another client is not affected
    assert views.sync_view(req(rf, ip="198.51.100.8")).status_code == 200


async def test_async_view_is_a_coroutine_and_limits(topology: Any, rf: RequestFactory) -> None:
    import inspect

    assert inspect.iscoroutinefunction(views.async_view)
    for _ in range(3):
        assert (await views.async_view(req(rf))).status_code == 200
    with pytest.raises(Ratelimited):
        await views.async_view(req(rf))


def test_block_false_sets_request_limited_and_usage(topology: Any, rf: RequestFactory) -> None:
    seen = []
    for _ in range(4):
        request = req(rf)
        views.report_view(request)
        seen.append((request.limited, request.ratelimit.remaining))
    assert seen == [(False, 2), (False, 1), (False, 0), (True, 0)]


def test_class_based_views_sync_and_async(topology: Any, rf: RequestFactory) -> None:
    view = views.SyncCBV.as_view()
    for _ in range(5):
        assert view(req(rf)).content == b"get"  # only POST is limited
    for _ in range(3):
        assert view(req(rf, "post")).content == b"post"
    with pytest.raises(Ratelimited):
        view(req(rf, "post"))


async def test_async_class_based_view(topology: Any, rf: RequestFactory) -> None:
    view = views.AsyncCBV.as_view()
    for _ in range(3):
        assert (await view(req(rf))).content == b"async get"
    with pytest.raises(Ratelimited):
        await view(req(rf))


def test_callable_rate_returning_none_means_no_limit(topology: Any, rf: RequestFactory) -> None:
    for _ in range(10):
        assert views.callable_rate_view(req(rf, HTTP_X_STAFF="yes")).status_code == 200
    for _ in range(2):
        assert views.callable_rate_view(req(rf)).status_code == 200
    with pytest.raises(Ratelimited):
        views.callable_rate_view(req(rf))


def test_method_filters(topology: Any, rf: RequestFactory) -> None:
    @ratelimit(key="ip", rate="1/d", method=UNSAFE)
    def view(request: Any) -> HttpResponse:
        return HttpResponse("ok")

    for _ in range(3):
        view(req(rf, "get"))
    view(req(rf, "post"))
    with pytest.raises(Ratelimited):
        view(req(rf, "delete"))
    assert ratelimit.ALL is ALL and ratelimit.UNSAFE is UNSAFE


@pytest.mark.parametrize(
    ("key", "same", "different"),
    [
        ("header:x-api-key", {"HTTP_X_API_KEY": "a"}, {"HTTP_X_API_KEY": "b"}),
        ("get:token", {"QUERY_STRING": "token=a"}, {"QUERY_STRING": "token=b"}),
        ("ip", {"REMOTE_ADDR": "203.0.113.1"}, {"REMOTE_ADDR": "203.0.113.2"}),
        (lambda group, request: request.META.get("HTTP_X_TENANT"), {"HTTP_X_TENANT": "t1"}, {"HTTP_X_TENANT": "t2"}),
        ("tests.ratelimit.test_decorator.tenant_key", {"HTTP_X_TENANT": "t1"}, {"HTTP_X_TENANT": "t2"}),
    ],
)
def test_keys_separate_buckets(topology: Any, rf: RequestFactory, key: Any, same: dict, different: dict) -> None:
    @ratelimit(group="keys", key=key, rate="1/d")
    def view(request: Any) -> HttpResponse:
        return HttpResponse("ok")

    def call(meta: dict) -> int:
        request = rf.get("/x/", **{"REMOTE_ADDR": "192.0.2.1", **meta})
        request.user = AnonymousUser()
        try:
            return view(request).status_code
        except Ratelimited:
            return 429

    assert [call(same), call(same), call(different)] == [200, 429, 200]


def tenant_key(group: str, request: Any) -> str:
    return request.META.get("HTTP_X_TENANT", "")


def test_post_key(topology: Any, rf: RequestFactory) -> None:
    usage = [
        get_usage(rf.post("/", {"username": "bob"}), group="login", key="post:username", rate="1/d", increment=True)
    ]
    usage.append(
        get_usage(rf.post("/", {"username": "bob"}), group="login", key="post:username", rate="1/d", increment=True)
    )
    usage.append(
        get_usage(rf.post("/", {"username": "eve"}), group="login", key="post:username", rate="1/d", increment=True)
    )
    assert [u.allowed for u in usage if u] == [True, False, True]


def test_user_and_user_or_ip_keys(topology: Any, rf: RequestFactory, django_user_model: Any, db: Any) -> None:
    alice = django_user_model.objects.create_user("alice")
    bob = django_user_model.objects.create_user("bob")

    def hit(user: Any, ip: str, key: str) -> bool:
        request = rf.get("/", REMOTE_ADDR=ip)
        request.user = user
        return is_ratelimited(request, group=f"u-{key}", key=key, rate="1/d", increment=True)

    # user_or_ip: a logged-in user is one bucket whatever the IP; anonymous visitors are per IP
    assert [hit(alice, "192.0.2.1", "user_or_ip"), hit(alice, "192.0.2.2", "user_or_ip")] == [False, True]
    assert hit(bob, "192.0.2.1", "user_or_ip") is False
    assert [hit(AnonymousUser(), "192.0.2.3", "user_or_ip"), hit(AnonymousUser(), "192.0.2.4", "user_or_ip")] == [
        False,
        False,
    ]
    # user: per user pk
    assert [hit(alice, "192.0.2.1", "user"), hit(bob, "192.0.2.1", "user"), hit(alice, "192.0.2.9", "user")] == [
        False,
        False,
        True,
    ]


def test_get_usage_signature_and_dict_access(topology: Any, rf: RequestFactory) -> None:
    request = req(rf)
    assert get_usage(request, group="g", key="ip", rate=None) is None
    assert get_usage(req(rf, "get"), group="g", key="ip", rate="2/d", method="POST") is None
    usage = get_usage(request, group="g", key="ip", rate="2/d", increment=True)
    assert isinstance(usage, Usage)
    assert (usage["count"], usage["limit"], usage["should_limit"]) == (1, 2, False)
    assert usage["time_left"] >= 1
    # increment=False peeks: nothing counted
    assert get_usage(request, group="g", key="ip", rate="2/d")["count"] == 1
    assert is_ratelimited(request, group="g", key="ip", rate="2/d", increment=True) is False
    # after the limit is used up, a peek says the next hit would be refused
    assert is_ratelimited(request, group="g", key="ip", rate="2/d") is True
    with pytest.raises(RatelimitConfigError, match="group"):
        get_usage(request, key="ip", rate="2/d")


async def test_aget_usage(topology: Any, rf: RequestFactory) -> None:
    request = req(rf)
    first = await aget_usage(request, group="ag", key="ip", rate="1/d", increment=True)
    second = await aget_usage(request, group="ag", key="ip", rate="1/d", increment=True)
    assert first is not None and second is not None
    assert (first.allowed, second.allowed) == (True, False)


def test_algorithm_and_cost_arguments(topology: Any, rf: RequestFactory) -> None:
    @ratelimit(key="ip", rate="10/d", algorithm="sliding_log", cost=4, block=False)
    def view(request: Any) -> HttpResponse:
        return HttpResponse(str(request.ratelimit.remaining))

    assert [view(req(rf)).content for _ in range(3)] == [b"6", b"2", b"2"]


def test_bad_decorator_arguments_fail_at_decoration(topology: Any) -> None:
    with pytest.raises(RatelimitConfigError, match="'5/fortnight'"):
        ratelimit(key="ip", rate="5/fortnight")
    with pytest.raises(RatelimitConfigError, match="'ipp'"):
        ratelimit(key="ipp", rate="5/m")
    with pytest.raises(RatelimitConfigError, match="'gcrb'"):
        ratelimit(key="ip", rate="5/m", algorithm="gcrb")


def test_enable_false_turns_limits_off(topology: Any, rf: RequestFactory, settings: Any) -> None:
    from tests.ratelimit.conftest import ratelimit_settings

    ratelimit_settings(settings, ENABLE=False)
    for _ in range(6):
        assert views.sync_view(req(rf)).status_code == 200
