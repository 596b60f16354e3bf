"""RatelimitMiddleware: rules and exemptions from settings, 429 bodies and headers, sync and async."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpResponse

from tests.ratelimit.conftest import ratelimit_settings
from tests.topologies import standalone_and_cluster

MIDDLEWARE = "django_redis_patterns.ratelimit.middleware.RatelimitMiddleware"
pytestmark = pytest.mark.urls("tests.ratelimit.urls")


@pytest.fixture
def with_middleware(settings: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]


def internal(request: Any) -> bool:
    return request.META.get("HTTP_X_INTERNAL") == "1"


RULES = [
    {"path": "/admin/login/", "methods": ["POST"], "key": "ip", "rate": "2/d"},
    {
        "regex": r"^/api/",
        "key": "ip",
        "rate": "3/d",
        "algorithm": "sliding_log",
        "exempt_paths": ["/api/health/"],
        "exempt_ips": ["10.0.0.0/8"],
        "exempt_if": "tests.ratelimit.test_middleware.internal",
    },
]


def test_path_rule_limits_only_its_path_and_methods(
    topology: Any, client: Any, settings: Any, with_middleware: None
) -> None:
    ratelimit_settings(settings, RULES=RULES)
    assert [client.get("/admin/login/").status_code for _ in range(4)] == [200] * 4
    statuses = [client.post("/admin/login/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert client.post("/plain/").status_code == 200
    assert client.post("/admin/login/", REMOTE_ADDR="192.0.2.50").status_code == 200


@standalone_and_cluster
def test_regex_rule_and_exemptions(topology: Any, client: Any, settings: Any, with_middleware: None) -> None:
    ratelimit_settings(settings, RULES=RULES)
    assert [client.get("/api/items/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [client.get("/api/health/").status_code for _ in range(5)] == [200] * 5  # exempt path
    assert [client.get("/api/items/", REMOTE_ADDR="10.1.2.3").status_code for _ in range(5)] == [200] * 5
    assert [client.get("/api/items/", HTTP_X_INTERNAL="1").status_code for _ in range(5)] == [200] * 5


def test_429_html_body_and_retry_after(topology: Any, client: Any, settings: Any, with_middleware: None) -> None:
    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "1/d"}])
    client.get("/plain/")
    response = client.get("/plain/", HTTP_ACCEPT="text/html")
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert b"Too Many Requests" in response.content
    assert int(response["Retry-After"]) >= 1
    assert "RateLimit" not in response  # headers are opt-in


def test_429_problem_json(topology: Any, client: Any, settings: Any, with_middleware: None) -> None:
    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "1/d"}], HEADERS="draft")
    client.get("/plain/")
    response = client.get("/plain/", HTTP_ACCEPT="application/problem+json")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["type"].endswith("#quota-exceeded")
    assert body["retry_after"] > 0
    assert int(response["Retry-After"]) == max(1, -(-body["retry_after"] // 1))
    assert response["RateLimit-Policy"] == '"1d";q=1;w=86400'
    assert response["RateLimit"].startswith('"1d";r=0;t=')


def test_draft_and_legacy_headers_on_allowed_responses(
    topology: Any, client: Any, settings: Any, with_middleware: None
) -> None:
    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "10/s;100/h", "algorithm": "fixed_window"}])
    ratelimit_settings(settings, HEADERS="both")
    response = client.get("/plain/")
    assert response.status_code == 200
    assert response["RateLimit-Policy"] == '"1s";q=10;w=1, "1h";q=100;w=3600'
    assert response["RateLimit"].startswith('"1s";r=9;t=')
    assert '"1h";r=99;t=' in response["RateLimit"]
    assert response["X-RateLimit-Limit"] == "10"
    assert response["X-RateLimit-Remaining"] == "9"
    assert int(response["X-RateLimit-Reset"]) > 1_700_000_000  # an epoch timestamp
    assert "RateLimit" not in client.get("/admin/login/")  # routes without limits get no headers


def test_decorated_view_becomes_429_through_middleware(
    topology: Any, client: Any, settings: Any, with_middleware: None
) -> None:
    assert [client.get("/sync/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [client.post("/cbv/").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_without_middleware_limited_view_is_403_like_django_ratelimit(topology: Any, client: Any) -> None:
    assert [client.get("/sync/").status_code for _ in range(4)] == [200, 200, 200, 403]


@standalone_and_cluster
async def test_async_stack(topology: Any, async_client: Any, settings: Any, with_middleware: None) -> None:
    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "2/d"}], HEADERS="draft")
    statuses = [(await async_client.get("/plain/")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    statuses = [(await async_client.get("/async/")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    last = await async_client.get("/acbv/")
    assert last.status_code == 200 and last["RateLimit"].startswith('"1d";r=2;')


def custom_view(request: Any, exception: Any) -> HttpResponse:
    return HttpResponse(f"custom {exception.usage.limit}", status=429)


def test_custom_view(topology: Any, client: Any, settings: Any, with_middleware: None) -> None:
    ratelimit_settings(
        settings, RULES=[{"path": "/plain/", "rate": "1/d"}], VIEW="tests.ratelimit.test_middleware.custom_view"
    )
    client.get("/plain/")
    response = client.get("/plain/")
    assert (response.status_code, response.content) == (429, b"custom 1")


def test_block_false_rule_only_marks_the_request(
    topology: Any, client: Any, settings: Any, with_middleware: None
) -> None:
    ratelimit_settings(settings, RULES=[{"path": "/report/", "rate": "1/d", "block": False, "group": "soft"}])
    bodies = [json.loads(client.get("/report/").content) for _ in range(2)]
    # the view's own 3/d limit is not reached, but the soft rule marked the second request limited
    assert [b["limited"] for b in bodies] == [False, True]


def test_bad_rule_is_a_clear_error(topology: Any, client: Any, settings: Any, with_middleware: None) -> None:
    from django_redis_patterns.ratelimit import RatelimitConfigError

    ratelimit_settings(settings, RULES=[{"path": "/plain/", "rate": "1/fortnight"}])
    with pytest.raises(RatelimitConfigError, match=r"RULES\[0\].*'1/fortnight'"):
        client.get("/plain/")
