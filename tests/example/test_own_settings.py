"""The example under its own settings module (arcade/settings.py, in a subprocess): sign-up.

tests/example/conftest.py copies the example's site settings over tests/settings.py; this file
runs the real module instead, so a setting the copy misses cannot hide a failure again."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.example import subprocess_site
from tests.example.conftest import PASSWORD

SIGN_UP = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.test import Client

form = {"username": "newbie", "password1": sys.argv[1], "password2": sys.argv[1], "region": "eu"}
client = Client()
signup = client.post("/signup/", form)
play = client.get("/play/")
again = Client().post("/signup/", form)
print(json.dumps({
    "backends": settings.AUTHENTICATION_BACKENDS,
    "signup": [signup.status_code, signup.get("Location")],
    "play": [play.status_code, play.content.decode()],
    "again": [again.status_code, again.content.decode()],
}))
"""


def test_sign_up_under_the_examples_own_settings_logs_the_player_in(topology: Any, tmp_path: Path) -> None:
    with subprocess_site.database(tmp_path) as database_url:
        env = subprocess_site.env(topology.url, database_url, ARCADE_FAST_PASSWORD_HASHER="1")
        subprocess_site.manage(env, "migrate", "--noinput", "-v", "0")
        result = subprocess.run(
            [sys.executable, "-c", SIGN_UP, PASSWORD],
            cwd=subprocess_site.EXAMPLE,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["backends"] == ["django_redis_patterns.sessions.auth.CachedModelBackend"]
    assert found["signup"] == [302, "/play/"]
    status, page = found["play"]
    assert status == 200 and '<span id="whoami">newbie</span>' in page
    status, page = found["again"]  # the account exists once, with its player: a form error, not a 500
    assert status == 200 and "A user with that username already exists." in page
