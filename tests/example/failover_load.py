"""A bounded load on the arcade for the failover drill (tests/example/test_failover_drill.py).

``WORKERS`` threads, each one visitor after another: a visitor signs up (or, when the site's
sign-up is out of order, logs in as a pre-created user), then sends two ``POST /api/play``
(faster than the play limit allows) and one ``GET /leaderboard/`` (both tabs in turn), and
so on, one request per ``TICK`` seconds, and after
``PLAYER_SECONDS`` a new visitor takes over on that worker. Every visitor is a browser of its
own: its cookies (session, CSRF) and its own source address (127.0.0.<n>, so the per-IP login
limit sees different clients). The budget is fixed: at most ``WORKERS / TICK`` requests a
second and ``BUDGET`` in all.

Every request is recorded with its start and end (seconds since the load started), its status
(or the error when there was no HTTP answer) and what it meant for the visitor, so the drill
can tell when requests failed, how, and whether the rate limit held.
"""

from __future__ import annotations

import http.client
import json
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

WORKERS = 4
TICK = 0.5  # seconds between two requests of one worker
PLAYER_SECONDS = 15.0  # then the worker's next visitor signs up (workers staggered: one every 3.75 s)
BUDGET = 600  # requests in all (60 s x 4 workers / 0.5 s = 480 planned)
REQUEST_TIMEOUT = 45.0  # longer than gunicorn's worker timeout (30 s): a killed worker shows as a reset
PASSWORD = "correct-horse-42"

# Outcomes of a request.
OK = "ok"  # the answer a healthy site gives
LIMITED = "limited"  # 429: the play limit
UNAVAILABLE = "unavailable"  # 503: the site's "back in a moment"
LOGGED_OUT = "logged_out"  # a logged-in visitor answered as anonymous (sessions' ON_ERROR="anonymous")
ERROR = "error"  # a 500, any other status, or no HTTP answer at all (reset, refused, timeout)
FAILED = (UNAVAILABLE, LOGGED_OUT, ERROR)


@dataclass
class Request:
    worker: int
    player: str
    action: str  # signup, confirm, login, play, board, check
    start: float
    end: float
    status: int | None  # None: no HTTP answer
    outcome: str
    error: str = ""  # the exception, when there was no HTTP answer

    def describe(self) -> str:
        answer = str(self.status) if self.status is not None else self.error
        return f"{self.action} by {self.player} at {self.start:.2f}-{self.end:.2f} s: {answer} ({self.outcome})"


class Browser:
    """One visitor's browser: a cookie jar and a source address; one connection per request
    (gunicorn's sync workers close the connection after each response)."""

    def __init__(self, port: int, source_ip: str):
        self.port = port
        self.source_ip = source_ip
        # A CSRF cookie of our own (as a browser would have after its first page): the header
        # X-CSRFToken repeats it; Django rotates it at login with Set-Cookie, which we follow.
        self.cookies: dict[str, str] = {"csrftoken": "".join(secrets.choice(string.ascii_letters) for _ in range(32))}

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> tuple[int, str]:
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "X-CSRFToken": self.cookies.get("csrftoken", ""),
        }
        if content_type:
            headers["Content-Type"] = content_type
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT, source_address=(self.source_ip, 0)
        )
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                self._set_cookie(header)
            return response.status, response.getheader("Location", "")
        finally:
            conn.close()

    def _set_cookie(self, header: str) -> None:
        for name, morsel in SimpleCookie(header).items():
            if morsel["max-age"] == "0" or not morsel.value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    @property
    def session(self) -> str:
        return self.cookies.get("sessionid", "")


@dataclass
class Player:
    name: str
    browser: Browser
    signed_up: bool = False  # the account exists
    #: The session was seen logged in (an authenticated answer): from then on it must survive.
    confirmed: bool = False
    confirmed_session: str = ""
    accepted: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each 200 play
    scores: list[int] = field(default_factory=list)


def _login_path(location: str) -> bool:
    return location.startswith("/login/")


class Load:
    """Run with :meth:`run`; read ``requests`` and ``players`` afterwards."""

    def __init__(
        self,
        port: int,
        *,
        duration: float,
        mode: str,
        accounts: list[str] | None = None,
        at: dict[float, Callable[[], Any]] | None = None,
        workers: int = WORKERS,
    ):
        """``mode``: "signup" (visitors sign up) or "login" (they log in as ``accounts``,
        pre-created with PASSWORD); ``at``: {seconds: action} run at that moment of the load
        (the drill kills the primary this way)."""
        if mode not in ("signup", "login"):
            raise ValueError(f"mode must be 'signup' or 'login', got {mode!r}")
        self.port = port
        self.duration = duration
        self.mode = mode
        self.accounts = list(accounts or [])
        self.at = dict(at or {})
        self.workers = workers
        self.requests: list[Request] = []
        self.players: list[Player] = []
        self.events: dict[str, float] = {}
        self._lock = threading.Lock()
        self._budget = BUDGET
        self._t0 = 0.0
        self._serial = 0

    def now(self) -> float:
        return time.monotonic() - self._t0

    # -- one request ------------------------------------------------------------------------
    def _send(
        self, worker: int, player: Player, action: str, method: str, path: str, body: bytes | None = None, ct: str = ""
    ) -> tuple[Request, str] | None:
        with self._lock:
            if self._budget <= 0:
                return None
            self._budget -= 1
        start = self.now()
        try:
            status, location = player.browser.request(method, path, body, ct)
        except (OSError, http.client.HTTPException) as exc:
            req = Request(worker, player.name, action, start, self.now(), None, ERROR, f"{type(exc).__name__}: {exc}")
            self._record(req)
            return req, ""
        req = Request(worker, player.name, action, start, self.now(), status, self._outcome(action, status, location))
        self._record(req)
        return req, location

    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)

    @staticmethod
    def _outcome(action: str, status: int, location: str) -> str:
        if status == 429:
            return LIMITED
        if status == 503:
            return UNAVAILABLE
        if action == "signup":
            # Signed up and logged in: to the play page. 200 is the form again (invalid).
            return OK if status == 302 and location.startswith("/play/") else ERROR
        if action == "login":
            return OK if status == 302 and not _login_path(location) else ERROR
        if action in ("confirm", "check"):  # GET /play/ of a logged-in visitor
            if status == 302 and _login_path(location):
                return LOGGED_OUT
            return OK if status == 200 else ERROR
        if action == "play":
            return {200: OK, 401: LOGGED_OUT}.get(status, ERROR)
        if action == "board":
            return OK if status == 200 else ERROR
        return ERROR

    # -- one visitor ------------------------------------------------------------------------
    def _new_player(self, worker: int) -> Player | None:
        with self._lock:
            self._serial += 1
            if self.mode == "signup":
                name = f"drill{worker}x{self._serial}"
            elif self.accounts:
                name = self.accounts.pop(0)
            else:
                return None
            player = Player(name, Browser(self.port, f"127.0.0.{10 + worker}"))
            self.players.append(player)
        return player

    def _enter(self, worker: int, player: Player) -> bool:
        """Sign up (or log in), then confirm the session with GET /play/. True: logged in."""
        if not player.signed_up:
            if self.mode == "signup":
                form = {"username": player.name, "password1": PASSWORD, "password2": PASSWORD, "region": "eu"}
                action, path = "signup", "/signup/"
            else:
                form = {"username": player.name, "password": PASSWORD}
                action, path = "login", "/login/"
            sent = self._send(worker, player, action, "POST", path, _form(form), "application/x-www-form-urlencoded")
            if sent is None or sent[0].outcome != OK:
                return False
            # Signed up even if the login that follows was not stored: from now on, log in.
            player.signed_up = True
        elif not player.confirmed:
            form = {"username": player.name, "password": PASSWORD}
            sent = self._send(
                worker, player, "login", "POST", "/login/", _form(form), "application/x-www-form-urlencoded"
            )
            if sent is None or sent[0].outcome != OK:
                return False
        sent = self._send(worker, player, "confirm", "GET", "/play/")
        if sent is None or sent[0].outcome != OK:
            return False
        player.confirmed, player.confirmed_session = True, player.browser.session
        return True

    def _play(self, worker: int, player: Player) -> None:
        score = secrets.randbelow(1001)
        sent = self._send(
            worker, player, "play", "POST", "/api/play", json.dumps({"score": score}).encode(), "application/json"
        )
        if sent is not None and sent[0].outcome == OK:
            player.accepted.append((sent[0].start, sent[0].end))
            player.scores.append(score)

    def _worker(self, worker: int) -> None:
        # Staggered: the workers' requests and their visitors' sign-ups spread over time.
        player = self._new_player(worker)
        since = -PLAYER_SECONDS * worker / self.workers
        step = 0
        next_tick = TICK * worker / self.workers
        time.sleep(max(0.0, next_tick - self.now()))
        while player is not None and self.now() < self.duration:
            if self.now() - since >= PLAYER_SECONDS:
                player, since = self._new_player(worker), since + PLAYER_SECONDS
                if player is None:
                    return
            if not player.confirmed:
                self._enter(worker, player)
            elif step % 3 != 2:  # two plays, then a board: ~20 plays in 15 s, the limit allows ~12
                self._play(worker, player)
            else:
                board = "weekly" if step % 6 == 2 else "alltime"
                self._send(worker, player, "board", "GET", f"/leaderboard/?board={board}")
            step += 1
            next_tick += TICK
            time.sleep(max(0.0, next_tick - self.now()))

    def enter_now(self) -> Player | None:
        """One more visitor, now, on a worker number of its own: signs up (or logs in) and
        confirms. The drill calls it just before the kill: a session written in the last
        instant before the crash must survive it too."""
        player = self._new_player(self.workers)
        if player is not None:
            self._enter(self.workers, player)
        return player

    def _timer(self) -> None:
        for moment, action in sorted(self.at.items()):
            time.sleep(max(0.0, moment - self.now()))
            self.events[getattr(action, "__name__", str(moment))] = self.now()
            action()

    def run(self) -> None:
        self._t0 = time.monotonic()
        threads = [threading.Thread(target=self._worker, args=(w,), name=f"drill-{w}") for w in range(self.workers)]
        timer = threading.Thread(target=self._timer, name="drill-timer")
        for t in [*threads, timer]:
            t.start()
        for t in [*threads, timer]:
            t.join(self.duration + 120)

    def check_sessions(self) -> list[Player]:
        """After the run: each confirmed session, still logged in? Returns the visitors whose
        session is gone (GET /play/ sends them to log in)."""
        lost = []
        for player in self.players:
            if not player.confirmed:
                continue
            sent = self._send(-1, player, "check", "GET", "/play/")
            if sent is None or sent[0].outcome != OK:
                lost.append(player)
        return lost


def _form(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


def rate_excess(accepted: list[tuple[float, float]], limit: int, period: float) -> int:
    """Accepted plays beyond what GCRA with a burst of ``limit`` and one more per
    ``period / limit`` can allow: for accepted plays i..j, the limiter decided between
    play i's start and play j's end, so at most ``limit + (end_j - start_i) // interval``
    fit (an upper bound: network time only adds room). The largest overshoot, 0 if none."""
    interval = period / limit
    times = sorted(accepted)
    worst = 0
    for i in range(len(times)):
        last_end = 0.0  # plays i..j (by start) were all decided before the latest of their ends
        for j in range(i, len(times)):
            last_end = max(last_end, times[j][1])
            allowed = limit + int((last_end - times[i][0]) // interval)
            worst = max(worst, (j - i + 1) - allowed)
    return worst
