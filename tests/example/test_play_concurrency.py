"""Twenty plays of one player at the same instant, through gunicorn: exactly ten are accepted.

The arcade runs under gunicorn (2 worker processes) with its own settings; 20 threads, each
with its own connection, send ``POST /api/play`` with the same session on a barrier.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.example import subprocess_site
from tests.topologies import standalone_and_cluster

PLAYS = 20

SESSION_CODE = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from arcade.models import Player
user = get_user_model().objects.create_user("racer")
Player.objects.create(user=user, name="racer")
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]  # as login() would
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.save()
print("SESSION" + session.session_key)
"""

COUNT_CODE = """
from arcade.models import Player, Round
player = Player.objects.get(name="racer")
in_sync = Player.leaderboard.score_of(player) == player.score
print("COUNT", Round.objects.filter(player=player).count(), player.rounds_played, in_sync)
"""


@pytest.mark.postgres
@standalone_and_cluster
def test_twenty_simultaneous_plays_ten_accepted(topology: Any, tmp_path: Path) -> None:
    with subprocess_site.database(tmp_path) as database_url:
        env = subprocess_site.env(topology.url, database_url, ALLOWED_HOSTS="127.0.0.1")
        subprocess_site.manage(env, "migrate", "--noinput", "-v", "0")
        out = subprocess_site.manage(env, "shell", "-v", "0", "-c", SESSION_CODE).stdout
        session = out.split("SESSION", 1)[1].strip()
        port = subprocess_site.free_port()
        log = tmp_path / "gunicorn.log"
        server = subprocess_site.serve(env, port, log)
        try:
            csrf = "a" * 32
            headers = {
                "Cookie": f"sessionid={session}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
                "Content-Type": "application/json",
            }
            barrier = threading.Barrier(PLAYS)
            statuses: list[int] = []

            def play() -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.connect()
                barrier.wait()
                conn.request("POST", "/api/play", body=json.dumps({"score": 7}), headers=headers)
                statuses.append(conn.getresponse().status)

            threads = [threading.Thread(target=play) for _ in range(PLAYS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        assert sorted(statuses) == [200] * 10 + [429] * 10, log.read_text()[-3000:]
        count = subprocess_site.manage(env, "shell", "-v", "0", "-c", COUNT_CODE).stdout.split()
        # Ten rounds in the database, the player's counter agrees, and the board matches the table.
        assert count[count.index("COUNT") + 1 :] == ["10", "10", "True"]
