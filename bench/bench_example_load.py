"""The example site under load: ours vs the stack people use today, in one run.

The arcade (example_project/) is served by gunicorn (4 sync workers) in its own process
group and driven by a bounded asyncio client (raw HTTP/1.1 over sockets, 24 connections in
flight) in another process. The mix, for 8 logged-in players per stack: 30% ``POST /play/``
(limited to 10/min per player, so most plays are refused with a 429 once the burst is spent)
and 70% ``GET /leaderboard/`` (all-time or weekly tab: cached top 50 + the player's rank
and neighbours). Both stacks are served for the whole run; six alternating rounds of 6 s
per stack (after a 1 s warm-up each), and the median of the six paired ratios is reported
beside the totals: the machine's load drifts, a pair of adjacent rounds sees the same.

Stacks (``ARCADE_STACK`` in the example's settings):

* ``patterns``: this package's cache backend, session engine (+ per-user index) and GCRA
  rate limiter;
* ``today``: django-redis cache, Django's cache session engine, django-ratelimit (fixed
  window). The leaderboards are this package's in both (there is no common alternative).

Rounds alternate in ABBA order (patterns, today, today, patterns, ...) so drifting machine load
and any advantage of running second hit both alike.
Afterwards the database's rounds are checked against each player's limit, and against the
client's count of accepted plays (every 200 to a play is one row, no 429 wrote one).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
STACKS = ("patterns", "today")
LABELS = {
    "patterns": "ours (django-redis-patterns)",
    "today": "today (django-redis + cache sessions + django-ratelimit)",
}
PLAYERS_PER_STACK = 8
SEEDED_PLAYERS = 100_000
WORKERS = 4
CONCURRENCY = 24
WARMUP = 1.0
DURATION = 6.0
ROUNDS = 6
PLAY_SHARE = 0.3
LIMIT, PERIOD = 10, 60  # PLAY_RATE in arcade/views.py


# -- the load generator (runs in its own process: python bench/bench_example_load.py client ...) --


async def _request(port: int, raw: bytes) -> tuple[int, float]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await reader.read()  # Connection: close -> until EOF
    finally:
        writer.close()
    status = int(data[9:12]) if data.startswith(b"HTTP/1.") else 0
    return status, time.perf_counter() - started


def _raw(op: str, port: int, session: str, csrf: str, rng: random.Random) -> bytes:
    cookie = f"sessionid={session}; csrftoken={csrf}"
    if op == "play":
        body = f"score={rng.randint(0, 1000)}".encode()
        head = (
            f"POST /play/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nX-CSRFToken: {csrf}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        return head.encode() + body
    board = "weekly" if rng.random() < 0.5 else "alltime"
    return (
        f"GET /leaderboard/?board={board} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


async def _drive(port: int, sessions: list[list[Any]], warmup: float, duration: float, concurrency: int) -> dict:
    rng = random.Random(1)
    csrf = "".join(rng.choice(string.ascii_letters) for _ in range(32))
    results: list[tuple[str, int, int, float, bool]] = []  # op, user id, status, seconds, measured
    start = time.perf_counter()
    measure_from, stop = start + warmup, start + warmup + duration

    async def worker(index: int) -> None:
        local = random.Random(index)
        while (now := time.perf_counter()) < stop:
            user_id, session = sessions[local.randrange(len(sessions))]
            op = "play" if local.random() < PLAY_SHARE else "leaderboard"
            try:
                status, seconds = await _request(port, _raw(op, port, session, csrf, local))
            except OSError:
                status, seconds = 0, time.perf_counter() - now
            results.append((op, user_id, status, seconds, now >= measure_from))

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    # "measured": after the warm-up, for requests/s and latency; "accepted": every play that got a
    # 200, warm-up included, to compare with the rounds in the database.
    accepted = [user_id for op, user_id, status, _, _ in results if op == "play" and status == 200]
    measured = [r[:4] for r in results if r[4]]
    return {"measured": measured, "duration": duration, "accepted": accepted, "requests": len(results)}


def client_main(argv: list[str]) -> None:
    port, sessions_file, warmup, duration, concurrency = argv
    sessions = json.loads(Path(sessions_file).read_text())
    out = asyncio.run(_drive(int(port), sessions, float(warmup), float(duration), int(concurrency)))
    print(json.dumps(out))


# -- the benchmark ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(stack: str, redis_url: str, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "arcade.settings",
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(ROOT)]),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "ARCADE_STACK": stack,
        "DEBUG": "0",
        "SECRET_KEY": "arcade-tests-secret-key-not-for-production-4f8a1c2e9b7d",
        "ALLOWED_HOSTS": "127.0.0.1",
    }


def _manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=EXAMPLE, env=env, capture_output=True, text=True, timeout=300
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


SESSIONS_CODE = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from arcade.models import Player
Store = import_module(settings.SESSION_ENGINE).SessionStore
out = []
for i in range(%(n)d):
    user, _ = get_user_model().objects.get_or_create(username="bench-%(stack)s-%%03d" %% i)
    Player.objects.get_or_create(user=user, defaults={"name": user.username})
    session = Store()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]  # as login() would
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    out.append([user.pk, session.session_key])
print("SESSIONS" + json.dumps(out))
"""


def _sessions(env: dict[str, str], stack: str) -> list[list[Any]]:
    out = _manage(env, "shell", "-v", "0", "-c", SESSIONS_CODE % {"n": PLAYERS_PER_STACK, "stack": stack})
    return json.loads(out.split("SESSIONS", 1)[1])  # type: ignore[no-any-return]


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "arcade.wsgi:application",
            "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        ],
        cwd=EXAMPLE, env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /leaderboard/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            time.sleep(0.2)
    _stop(server)
    raise RuntimeError("gunicorn did not start serving the arcade within 60 s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)  # its own session: the master and its workers
        server.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)


def _load(port: int, sessions_file: Path) -> dict:
    args = [str(port), str(sessions_file), str(WARMUP), str(DURATION), str(CONCURRENCY)]
    result = subprocess.run(
        [sys.executable, __file__, "client", *args], capture_output=True, text=True, timeout=DURATION + WARMUP + 120
    )
    if result.returncode:
        raise RuntimeError(f"load client failed:\n{result.stderr}")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _commands_processed(ctx: Any) -> int:
    return int(ctx.redis().info("stats")["total_commands_processed"])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


ROUNDS_CODE = """
import json
from arcade.models import Player, Round
rounds = Round.objects.filter(player__name__startswith="bench-%(stack)s-")
rows = list(rounds.values_list("player__user_id", "played_at"))
players = Player.objects.filter(name__startswith="bench-%(stack)s-")
# From Redis: each player's all-time board score must equal the database's total.
drift = sum(1 for p in players if Player.leaderboard.score_of(p) != (p.score or None))
print("ROUNDS" + json.dumps({"rounds": [[u, t.timestamp()] for u, t in rows], "drift": drift}))
"""


def _rounds(env: dict[str, str], stack: str) -> tuple[dict[int, list[float]], int]:
    """Each bench player's rounds (timestamps) from the database, and how many players' board
    scores in Redis differ from the database."""
    out = json.loads(_manage(env, "shell", "-v", "0", "-c", ROUNDS_CODE % {"stack": stack}).split("ROUNDS", 1)[1])
    per_user: dict[int, list[float]] = {}
    for user_id, at in out["rounds"]:
        per_user.setdefault(user_id, []).append(at)
    return {u: sorted(ts) for u, ts in per_user.items()}, int(out["drift"])


def gcra_violations(times: list[float], *, slack: float = 0.25) -> int:
    """Plays beyond GCRA's promise: in any span [t_i, t_j], at most LIMIT + span / (PERIOD / LIMIT).
    ``slack`` covers the gap between the limiter's Redis clock and the row's timestamp."""
    interval = PERIOD / LIMIT
    worst = 0
    for j in range(len(times)):
        for i in range(j + 1):
            allowed = LIMIT + int((times[j] - times[i] + slack) / interval)
            worst = max(worst, (j - i + 1) - allowed)
    return worst


def busiest_minute(times: list[float]) -> int:
    """Most plays in any 60 s span: GCRA keeps it at LIMIT + 60 s / interval; a fixed window,
    at its boundary, lets up to twice the limit through (django-ratelimit's documented trade-off)."""
    most, i = 0, 0
    for j in range(len(times)):
        while times[j] - times[i] >= PERIOD:
            i += 1
        most = max(most, j - i + 1)
    return most


def _database(tmp: Path) -> tuple[str, Any]:
    try:
        import psycopg

        admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
        name = f"arcade_bench_{os.getpid()}"
        with psycopg.connect(admin, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return f"postgres://postgres@127.0.0.1:5432/{name}", drop
    except Exception:  # no PostgreSQL here: SQLite (writes serialize; both stacks alike)
        return f"sqlite:///{tmp / 'arcade-bench.sqlite3'}", lambda: None


def run(ctx: Any) -> None:
    from .harness import Row

    with tempfile.TemporaryDirectory(prefix="arcade-bench-") as tmp_name:
        tmp = Path(tmp_name)
        database_url, drop = _database(tmp)
        try:
            envs = {stack: _env(stack, ctx.url, database_url) for stack in STACKS}
            _manage(envs["patterns"], "migrate", "--noinput", "-v", "0")
            started = time.perf_counter()
            _manage(envs["patterns"], "seed_arcade", "--players", str(SEEDED_PLAYERS), "--seed", "1", "-v", "0")
            seeded = time.perf_counter() - started
            ctx.record(f"seed_arcade --players {SEEDED_PLAYERS:,}", "ours", seeded, "s (incl. Django start-up)")
            files = {}
            for stack in STACKS:
                files[stack] = tmp / f"sessions-{stack}.json"
                files[stack].write_text(json.dumps(_sessions(envs[stack], stack)))
            measured: dict[str, list[tuple[str, int, int, float]]] = {s: [] for s in STACKS}
            accepted: dict[str, dict[int, int]] = {s: {} for s in STACKS}
            seconds: dict[str, float] = dict.fromkeys(STACKS, 0.0)
            redis_commands: dict[str, int] = dict.fromkeys(STACKS, 0)
            requests: dict[str, int] = dict.fromkeys(STACKS, 0)
            # Both stacks serve for the whole run; rounds alternate between them, so machine load that
            # drifts during the run hits both, and each round's pair gives one ratio.
            ports = {stack: _free_port() for stack in STACKS}
            servers: dict[str, subprocess.Popen[bytes]] = {}
            round_rates: dict[str, list[float]] = {s: [] for s in STACKS}
            try:
                for stack in STACKS:
                    servers[stack] = _serve(envs[stack], ports[stack])
                for round_number in range(2 if ctx.quick else ROUNDS):
                    # ABBA order: whichever stack runs second in a pair (warmer caches, a load
                    # client already forked) swaps every round, so the order favours neither.
                    for stack in STACKS if round_number % 2 == 0 else STACKS[::-1]:
                        before = _commands_processed(ctx)
                        out = _load(ports[stack], files[stack])
                        redis_commands[stack] += _commands_processed(ctx) - before
                        requests[stack] += out["requests"]
                        measured[stack] += [tuple(r) for r in out["measured"]]  # type: ignore[misc]
                        seconds[stack] += out["duration"]
                        round_rates[stack].append(len(out["measured"]) / out["duration"])
                        for user_id in out["accepted"]:
                            accepted[stack][user_id] = accepted[stack].get(user_id, 0) + 1
            finally:
                for server in servers.values():
                    _stop(server)
            paired = sorted(o / t for o, t in zip(round_rates["patterns"], round_rates["today"], strict=True))
            ctx.record(
                "arcade under gunicorn: paired-round ratio (ours/today)",
                "median of rounds",
                statistics.median(paired),
                "x (rounds: " + ", ".join(f"{r:.2f}" for r in paired) + ")",
            )
            commands = {s: redis_commands[s] / max(requests[s], 1) for s in STACKS}
            _report(ctx, Row, envs, measured, seconds, accepted, commands)
        finally:
            drop()


def _report(ctx: Any, Row: Any, envs: dict, measured: dict, seconds: dict, accepted: dict, commands: dict) -> None:
    rates, p99s = {}, {}
    for stack in STACKS:
        rows = measured[stack]
        errors = sum(1 for r in rows if r[2] not in (200, 429))
        if errors:
            statuses = sorted({r[2] for r in rows})
            raise RuntimeError(f"{stack}: {errors} responses neither 200 nor 429 (statuses {statuses})")
        rates[stack] = len(rows) / seconds[stack]
        p99s[stack] = _percentile([r[3] for r in rows], 0.99) * 1000
    ours = rates["patterns"]
    for stack in STACKS:
        ratio = None if stack == "patterns" else ours / rates[stack]
        ctx.rows.append(Row("arcade under gunicorn: requests/s (play+leaderboard)", LABELS[stack], rates[stack], ratio))
        shown = "" if ratio is None else f"  ratio ours/them {ratio:5.2f}x"
        print(f"  {'requests/s':<42} {LABELS[stack][:28]:<28} {rates[stack]:12,.0f} req/s{shown}", flush=True)
    for stack in STACKS:
        note = "ms p99" if stack == "patterns" else f"ms p99 (ours is {p99s[stack] / p99s['patterns']:.2f}x lower)"
        ctx.record("arcade under gunicorn: p99 latency", LABELS[stack], p99s[stack], note)
    for stack in STACKS:
        db, drift = _rounds(envs[stack], stack)
        counted = accepted[stack]
        mismatched = sorted(u for u in set(db) | set(counted) if len(db.get(u, [])) != counted.get(u, 0))
        if mismatched:
            raise RuntimeError(f"{stack}: DB rounds differ from accepted plays for users {mismatched[:10]}")
        plays = sum(len(ts) for ts in db.values())
        refused = sum(1 for r in measured[stack] if r[0] == "play" and r[2] == 429)
        most = max((busiest_minute(ts) for ts in db.values()), default=0)
        note = (
            f"plays accepted {plays}, refused {refused} (measured part); most plays by one player in 60 s: {most}; "
            f"players whose all-time board score differs from the DB: {drift}"
        )
        if stack == "patterns":
            worst = max((gcra_violations(ts) for ts in db.values()), default=0)
            note += f"; plays beyond GCRA's bound: {worst}"
            if worst:
                raise RuntimeError(f"{stack}: a player got {worst} play(s) more than the limit allows")
        ctx.record("arcade under gunicorn: plays per player (limit 10/min)", LABELS[stack], float(most), note)
    for stack in STACKS:
        ctx.record(
            "arcade under gunicorn: Redis commands per request",
            LABELS[stack],
            commands[stack],
            "commands (incl. inside Lua)",
        )


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "client":
    client_main(sys.argv[2:])
