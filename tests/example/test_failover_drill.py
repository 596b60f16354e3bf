"""Failover drill: the arcade under load while its Redis primary is killed with SIGKILL.

The arcade runs under gunicorn with its own settings (arcade/settings.py: REDIS_URL on a
throw-away topology, a SQLite file, ``SESSION_MIN_REPLICAS=1`` so each session write waits
for a replica). ``failover_load.Load`` drives it for ``DURATION`` seconds with a few visitors
who sign up, play and read the boards; at ``KILL_AT`` the primary dies:

* Sentinel: a primary, a replica, three Sentinels (``down-after-milliseconds`` 1000);
* Cluster: three primaries with a replica each (``cluster-node-timeout`` 1000); the primary
  killed is the one serving the all-time board's slot, which every play and board read uses.

At ``RESTART_AT`` the killed server is started again, as an operator would, and must come back
as a replica of the new primary without disturbing the site.

What a user would notice is then checked: requests fail only during the failover, each with
the site's 503 (never a 500, never a dropped connection); writes succeed again within
``WINDOW_LIMIT`` seconds; no logged-in session is lost; every player's rounds in the database
match the plays the site accepted and both boards agree with the database; no player got more
plays than the limit allows. The figures are printed as a table (docs/operations.md,
"Failover drill").
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from arcade.views import PLAY_RATE

from django_redis_patterns.ratelimit import rates
from tests.example import failover_load, subprocess_site

pytestmark = pytest.mark.slow

DURATION = 60.0
KILL_AT = 20.0
RESTART_AT = 40.0  # the killed server is started again (same port and directory)
WINDOW_LIMIT = 30.0  # seconds after the kill by which every failure is over and writes succeed
(PLAY,) = rates.parse(PLAY_RATE)  # "10/m" with GCRA: a burst of 10, then one per 6 s
GUNICORN_WORKERS = 3
ALLTIME_BOARD_KEY = "lb:{arcade.alltime}"  # Player.Leaderboard.name under the default KEY_PREFIX

SIGNUP_BROKEN = "multiple authentication backends configured"

ACCOUNTS_CODE = """
from django.contrib.auth import get_user_model
from arcade.models import Player
for name in {names!r}:
    user = get_user_model().objects.create_user(name, password={password!r})
    Player.objects.create(user=user, name=name)
"""

STATE_CODE = """
import json
from django.db.models import Count, Sum
from arcade import boards
from arcade.models import Player

def number(score):
    return None if score is None else int(score)

weekly = boards.board("weekly")
state = {}
for p in Player.objects.annotate(n=Count("rounds"), total=Sum("rounds__score")):
    state[p.name] = {
        "rounds": p.n, "rounds_played": p.rounds_played, "score": p.score, "sum": p.total or 0,
        "weekly_score": p.weekly_score,
        "board": number(Player.leaderboard.score_of(p)), "weekly_board": number(weekly.score_of(p)),
    }
print("STATE" + json.dumps(state))
"""


@dataclass
class Row:
    topology: str
    requests: int
    unavailable: int
    logged_out: int
    errors: int  # 500s, other statuses, no answer: each fails the test
    limited: int
    window: float
    writes_back: float
    sessions_lost: int
    plays_mismatched: int
    rate_excess: int
    signup: str

    HEADER = (
        "| topology | requests | failed | 429s | window s | writes back after s | sessions lost "
        "| plays mismatched | rate-limit excess | visitors |"
    )

    @property
    def failed(self) -> str:
        kinds = [f"{self.unavailable} × 503"]
        kinds += [f"{self.logged_out} logged out"] if self.logged_out else []
        kinds += [f"{self.errors} errors"] if self.errors else []
        return f"{self.unavailable + self.logged_out + self.errors} ({', '.join(kinds)})"

    def line(self) -> str:
        return (
            f"| {self.topology} | {self.requests} | {self.failed} | {self.limited} | {self.window:.1f} "
            f"| {self.writes_back:.1f} | {self.sessions_lost} | {self.plays_mismatched} | {self.rate_excess} "
            f"| {self.signup} |"
        )


@pytest.fixture(scope="module")
def drill_table(request: pytest.FixtureRequest) -> Iterator[list[Row]]:
    rows: list[Row] = []
    yield rows
    if not rows:
        return
    lines = [
        "",
        f"Failover drill: kill -9 of the primary at {KILL_AT:.0f} s of a {DURATION:.0f} s load, "
        f"started again at {RESTART_AT:.0f} s",
        Row.HEADER,
        "|" + "---|" * 10,
        *(row.line() for row in rows),
    ]
    # Printed past pytest's capture, so every run shows the table, passed or not.
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n".join(lines))


def _sentinel(redis_factory: Any) -> tuple[Any, Any, Callable[[], bool]]:
    """A primary + replica + 3 Sentinels; the victim is the primary."""
    group = redis_factory("sentinel", down_after_ms=1000, failover_timeout_ms=4000)
    victim = group.current_primary()
    return group, victim, lambda: group.current_primary() is not victim


def _cluster(redis_factory: Any) -> tuple[Any, Any, Callable[[], bool]]:
    """3 primaries with a replica each; the victim is the primary of the all-time board's slot."""
    group = redis_factory("cluster", node_timeout_ms=1000)
    victim = next(p for p in group.primaries if _owns(p, ALLTIME_BOARD_KEY))
    survivor = next(p for p in group.primaries if p is not victim)

    def failed_over() -> bool:
        with contextlib.closing(survivor.client(decode_responses=True)) as c:
            return bool(c.execute_command("CLUSTER INFO").get("cluster_state") == "ok") and not _owns(
                victim, ALLTIME_BOARD_KEY
            )

    return group, victim, failed_over


def _rejoined_as_replica(server: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception), contextlib.closing(server.client(decode_responses=True)) as c:
            info = c.info("replication")
            if info.get("role") == "slave" and info.get("master_link_status") == "up":
                return True
        time.sleep(0.2)
    return False


def _owns(primary: Any, key: str) -> bool:
    """Does this Cluster primary serve ``key``'s slot? (The others answer MOVED.)"""
    import redis

    with contextlib.closing(primary.client()) as c:
        try:
            c.exists(key)
        except redis.exceptions.MovedError:
            return False
    return True


def _shell(env: dict[str, str], code: str) -> str:
    return subprocess_site.manage(env, "shell", "-v", "0", "-c", code).stdout


def _signup_works(port: int, log: Path) -> bool:
    """One sign-up before the load. The site's sign-up has been seen answering 500 because
    the arcade lists two AUTHENTICATION_BACKENDS and ``login()`` is called without one; the
    drill then logs pre-created users in instead (and says so). Any other failure fails here."""
    probe = failover_load.Player("probe", failover_load.Browser(port, "127.0.0.9"))
    pw = failover_load.PASSWORD
    body = failover_load._form({"username": "probe", "password1": pw, "password2": pw, "region": "eu"})
    status, location = probe.browser.request("POST", "/signup/", body, "application/x-www-form-urlencoded")
    if status == 302 and location.startswith("/play/"):
        return True
    if status == 500 and SIGNUP_BROKEN in log.read_text(errors="replace"):
        return False
    raise AssertionError(f"sign-up answered {status} {location}:\n{log.read_text(errors='replace')[-3000:]}")


def _row(
    kind: str, load: failover_load.Load, kill: float, lost: list[Any], state: dict[str, dict[str, Any]], mode: str
) -> tuple[Row, list[str]]:
    requests = [r for r in load.requests if r.action != "check"]
    failed = [r for r in requests if r.outcome in failover_load.FAILED]
    window = max((r.end - kill for r in failed), default=0.0)
    plays = sorted((r for r in requests if r.action == "play"), key=lambda r: r.start)
    last_failed_play = max((r.end for r in plays if r.outcome in failover_load.FAILED), default=None)
    if last_failed_play is None:
        writes_back = 0.0
    else:
        back = [r.start for r in plays if r.outcome == failover_load.OK and r.start >= last_failed_play]
        writes_back = (back[0] - kill) if back else float("inf")
    mismatched = []
    excess = 0
    for player in load.players:
        row = state.get(player.name)
        accepted = len(player.accepted)
        wanted = {
            "rounds": accepted,
            "rounds_played": accepted,
            "sum": sum(player.scores),
            "score": sum(player.scores),
            "board": sum(player.scores),
        }
        got = {k: (row or {}).get(k) for k in wanted}
        # The weekly board gets a player with the first round of the week (a visitor who never
        # played is not on it).
        weekly_ok = row is not None and row["weekly_score"] == sum(player.scores)
        weekly_ok = weekly_ok and row["weekly_board"] == (row["weekly_score"] if accepted else None)
        if got != wanted or not weekly_ok:
            mismatched.append(f"{player.name}: site accepted {accepted} plays ({wanted['sum']} points), state {row}")
        excess += failover_load.rate_excess(player.accepted, PLAY.limit, PLAY.period)
    row = Row(
        topology=kind,
        requests=len(requests),
        unavailable=sum(r.outcome == failover_load.UNAVAILABLE for r in failed),
        logged_out=sum(r.outcome == failover_load.LOGGED_OUT for r in failed),
        errors=sum(r.outcome == failover_load.ERROR for r in failed),
        limited=sum(r.outcome == failover_load.LIMITED for r in requests),
        window=window,
        writes_back=writes_back,
        sessions_lost=len(lost),
        plays_mismatched=len(mismatched),
        rate_excess=excess,
        signup="sign-up" if mode == "signup" else "log in (sign-up 500s)",
    )
    return row, mismatched


@pytest.mark.parametrize("kind", ["sentinel", "cluster"])
def test_failover_drill(kind: str, redis_factory: Any, tmp_path: Path, drill_table: list[Row]) -> None:
    last_instant: list[failover_load.Player | None] = []
    killed_at: list[float] = []
    group, victim, failed_over = (_sentinel if kind == "sentinel" else _cluster)(redis_factory)

    def kill_primary() -> None:
        last_instant.append(load.enter_now())  # logged in the moment before the crash
        killed_at.append(load.now())
        victim.kill()

    def restart_old_primary() -> None:  # as an operator would: it must come back as a replica
        victim.start(wait=False)

    database_url = f"sqlite:///{tmp_path / 'arcade.sqlite3'}"
    env = subprocess_site.env(
        group.url,
        database_url,
        ALLOWED_HOSTS="127.0.0.1",
        SESSION_MIN_REPLICAS="1",
        ARCADE_FAST_PASSWORD_HASHER="1",
    )
    subprocess_site.manage(env, "migrate", "--noinput", "-v", "0")
    port = subprocess_site.free_port()
    log = tmp_path / "gunicorn.log"
    server = subprocess_site.serve(env, port, log, workers=GUNICORN_WORKERS)
    try:
        mode = "signup" if _signup_works(port, log) else "login"
        accounts: list[str] = []
        if mode == "login":
            per_worker = int(DURATION // failover_load.PLAYER_SECONDS) + 2  # + the staggered start
            accounts = [f"player{i:02d}" for i in range(failover_load.WORKERS * per_worker)]
            _shell(env, ACCOUNTS_CODE.format(names=accounts, password=failover_load.PASSWORD))
        load = failover_load.Load(
            port,
            duration=DURATION,
            mode=mode,
            accounts=accounts,
            at={KILL_AT: kill_primary, RESTART_AT: restart_old_primary},
        )
        load.run()
        lost = load.check_sessions()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(30)
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    server_log = log.read_text(errors="replace")
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts" / "failover-drill"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"{kind}-gunicorn.log").write_text(server_log)
    assert killed_at, "the primary was never killed (see the drill-timer thread's error above)"
    kill = killed_at[0]
    state = json.loads(_shell(env, STATE_CODE).split("STATE", 1)[1])
    row, mismatched = _row(kind, load, kill, lost, state, mode)
    drill_table.append(row)
    print(Row.HEADER)
    print(row.line())
    print(f"kill at {kill:.2f} s; failed requests:")
    for r in load.requests:
        if r.outcome in failover_load.FAILED:
            print("  " + r.describe())

    # The load's requests (the after-run session check is asserted on its own below).
    failed = [r for r in load.requests if r.outcome in failover_load.FAILED and r.action != "check"]
    assert _rejoined_as_replica(victim), f"the old primary did not rejoin as a replica:\n{victim.log_tail()}"
    assert failed_over(), f"the {kind} did not fail over"
    # The load really ran on both sides of the kill.
    plays_ok = [r for r in load.requests if r.action == "play" and r.outcome == failover_load.OK]
    assert any(r.end < kill for r in plays_ok) and any(r.start > kill for r in plays_ok), "no plays on one side"
    # Never a 500, another status, or a dropped connection: only the site's 503 (or a visitor
    # briefly seen logged out, the sessions' ON_ERROR="anonymous") -- and only during the failover.
    errors = [r.describe() for r in load.requests if r.outcome == failover_load.ERROR]
    assert not errors, "\n".join(errors) + "\n" + server_log[-5000:]
    outside = [r.describe() for r in failed if r.end < kill or r.start > kill + WINDOW_LIMIT]
    assert not outside, "failures outside the failover window:\n" + "\n".join(outside)
    restart = load.events["restart_old_primary"]
    disturbed = [r.describe() for r in failed if r.end > restart]
    assert not disturbed, "failures after the old primary came back:\n" + "\n".join(disturbed)
    assert row.writes_back <= WINDOW_LIMIT, f"writes were not back within {WINDOW_LIMIT} s"
    assert last_instant and last_instant[0] is not None and last_instant[0].confirmed, "no login before the kill"
    assert not lost, f"sessions lost: {[p.name for p in lost]}"
    assert not mismatched, "\n".join(mismatched)
    assert row.rate_excess == 0, {p.name: p.accepted for p in load.players}
