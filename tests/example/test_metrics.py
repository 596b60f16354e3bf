"""/metrics after a scripted load: the numbers are exactly what the load did."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from django_redis_patterns.contrib import prometheus

pytestmark = pytest.mark.django_db(transaction=True)  # the boards are written on commit

PLAYERS = 2
POSTS_EACH = 100
LIMIT = 10  # per player, per hour: no slot frees up during the run, whatever its speed


@pytest.fixture
def metrics_on(settings: Any) -> Iterator[Any]:
    """Call it to start counting (from zero); the metrics are removed after the test."""
    settings.ARCADE_METRICS = True
    prometheus.uninstall()
    yield prometheus.install
    prometheus.uninstall()


def scrape(client: Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_match_a_scripted_load_exactly(metrics_on: Any, settings: Any, make_player: Any) -> None:
    # A rule on the play API with a per-hour limit: a run of any speed gets exactly LIMIT per player.
    ratelimit = dict(settings.REDIS_PATTERNS["RATELIMIT"])
    rule = {"path": "/api/play", "methods": ["POST"], "key": "user_or_ip", "rate": f"{LIMIT}/h", "group": "load"}
    ratelimit["RULES"] = [*ratelimit.get("RULES", []), rule]
    settings.REDIS_PATTERNS = {**settings.REDIS_PATTERNS, "RATELIMIT": ratelimit}
    clients = []
    for i in range(PLAYERS):
        make_player(f"loader{i}")
        c = Client()
        assert c.login(username=f"loader{i}", password="correct-horse-42")
        clients.append(c)
    metrics_on()  # counting starts after the logins: what follows is the load alone
    statuses: dict[int, int] = {}
    for c in clients:
        for _ in range(POSTS_EACH):
            status = c.post("/api/play", {"score": 1}, content_type="application/json").status_code
            statuses[status] = statuses.get(status, 0) + 1
    assert statuses == {200: PLAYERS * LIMIT, 429: PLAYERS * (POSTS_EACH - LIMIT)}

    samples = scrape(Client())
    decisions = "django_redis_ratelimit_decisions_total"
    rule_labels = {"alias": "default", "algorithm": "gcra", "group": "load"}
    assert value(samples, decisions, **rule_labels, decision="allowed") == 20
    assert value(samples, decisions, **rule_labels, decision="denied") == 180
    # The view's own limit (10/m, group arcade.play) only sees the requests the rule let through.
    play_labels = {"alias": "default", "algorithm": "gcra", "group": "arcade.play"}
    assert value(samples, decisions, **play_labels, decision="allowed") == 20
    assert value(samples, decisions, **play_labels, decision="denied") == 0
    # Each of the 200 requests read its session from Redis once.
    assert value(samples, "django_redis_session_operations_total", alias="default", operation="load") == 200
    # Each of the 20 rounds played synced its player to both boards (all-time and weekly) once.
    syncs = "django_redis_leaderboard_operations_total"
    assert value(samples, syncs, alias="default", board="arcade.alltime", kind="sync") == 20
    assert value(samples, syncs, alias="default", board="arcade.weekly", kind="sync") == 20
    # Every rate-limit check was one script call (EVALSHA), plus one EVAL if the server had not
    # seen the script yet; all counted under the ratelimit pattern, each timed once.
    calls = {
        dict(labels)["command"]: v
        for (name, labels), v in samples.items()
        if name == "django_redis_commands_total" and ("pattern", "ratelimit") in labels
    }
    assert calls["EVALSHA"] == 220
    assert set(calls) <= {"EVALSHA", "EVAL"} and calls.get("EVAL", 0) <= 1
    timed = value(samples, "django_redis_command_duration_seconds_count", alias="default", pattern="ratelimit")
    assert timed == sum(calls.values())
