"""``manage.py seed_arcade --players 100000 [--if-empty]``: demo players, fast.

Users and players are written in batches of multi-row INSERTs (no model instances, no
per-row signals), then the boards are filled from the table in pipelined
round trips: ``leaderboard_rebuild`` for the all-time board (loaded beside the live one and
swapped in atomically) and ``boards.rebuild_weekly()`` for this week's points.

Seeded players cannot log in (unusable password); ``demo`` / ``arcade-demo`` can, and
``admin`` / ``arcade-admin`` opens the admin.
"""

from __future__ import annotations

import io
import random
import sys
import time
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction

from arcade import boards
from arcade.models import Player, current_season

DEMO_USERS = (("demo", "arcade-demo", False), ("admin", "arcade-admin", True))


class Progress:
    """A one-line progress bar on stdout (plain lines every 10% when stdout is not a terminal)."""

    def __init__(self, command: BaseCommand, total: int, label: str, *, enabled: bool):
        self.command, self.total, self.label, self.enabled = command, total, label, enabled
        self.tty = sys.stdout.isatty()
        self.started = time.monotonic()
        self.shown = -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / max(self.total, 1))
        rate = done / max(time.monotonic() - self.started, 1e-9)
        line = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} ({rate:,.0f}/s)"
        if self.tty:
            self.command.stdout.write("\r" + line, ending="\n" if done >= self.total else "")
            self.command.stdout.flush()
        elif done * 10 // max(self.total, 1) > self.shown:
            self.shown = done * 10 // max(self.total, 1)
            self.command.stdout.write(line)


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """INSERT ``rows`` (values for ``columns``) as multi-row statements, one round trip per chunk;
    every other field gets its default, converted for the database once rather than per row."""
    fields = {f.name: f for f in model._meta.concrete_fields if not f.primary_key}
    given = {fields[name].attname for name in columns}
    defaults = [
        (f.column, f.get_db_prep_save(f.get_default(), connection)) for f in fields.values() if f.attname not in given
    ]
    quote = connection.ops.quote_name
    names = [fields[c].column for c in columns] + [column for column, _ in defaults]
    fixed = tuple(value for _, value in defaults)
    per_statement = max(1, min(1000, (connection.features.max_query_params or 65535) // len(names)))
    row_sql = f"({', '.join(['%s'] * len(names))})"
    head = f"INSERT INTO {quote(str(model._meta.db_table))} ({', '.join(quote(str(n)) for n in names)}) VALUES "
    with connection.cursor() as cursor:
        for i in range(0, len(rows), per_statement):
            chunk = rows[i : i + per_statement]
            params = [value for row in chunk for value in (*row, *fixed)]
            cursor.execute(head + ", ".join([row_sql] * len(chunk)), params)


class Command(BaseCommand):
    help = "Create demo players (and the demo/admin accounts) and fill the leaderboards."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--players", type=int, default=1000, help="How many players to create (default 1000).")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when players exist already.")
        parser.add_argument("--batch", type=int, default=5000, help="Rows per INSERT batch (default 5000).")
        parser.add_argument("--seed", type=int, default=None, help="Random seed, for repeatable scores.")

    def handle(self, *args: Any, players: int, if_empty: bool, batch: int, seed: int | None, **options: Any) -> None:
        if players < 0:
            raise CommandError(f"--players must be >= 0, got {players}")
        if batch < 1:
            raise CommandError(f"--batch must be >= 1, got {batch}")
        verbosity = options.get("verbosity", 1)
        if if_empty and Player.objects.exists():
            if verbosity:
                self.stdout.write("seed_arcade: players exist already; nothing to do (--if-empty).")
            return
        rng = random.Random(seed)
        started = time.monotonic()
        self._demo_accounts()
        created = self._players(players, batch, rng, verbosity)
        # The all-time board: rebuilt from the table beside the live one, then swapped in.
        call_command("leaderboard_rebuild", "arcade.Player", verbosity=0, stdout=io.StringIO())
        weekly = boards.rebuild_weekly()
        if verbosity:
            self.stdout.write(
                self.style.SUCCESS(
                    f"seed_arcade: {created} players created; boards: {Player.leaderboard.count()} all time, "
                    f"{weekly} this week; {time.monotonic() - started:.1f}s"
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
            Player.objects.get_or_create(user=user, defaults={"name": username})

    def _players(self, count: int, batch: int, rng: random.Random, verbosity: int) -> int:
        User = get_user_model()
        season = current_season()
        regions = [code for code, _ in Player.REGIONS]
        start = User.objects.filter(username__startswith="player").count()
        progress = Progress(self, count, "players", enabled=verbosity >= 1)
        done = 0
        while done < count:
            size = min(batch, count - done)
            names = [f"player{start + done + i + 1:07d}" for i in range(size)]
            with transaction.atomic():
                insert_rows(User, ["username", "password"], [(n, UNUSABLE_PASSWORD_PREFIX + "seeded") for n in names])
                ids = dict(
                    User.objects.filter(username__gte=names[0], username__lte=names[-1]).values_list("username", "pk")
                )
                rows = []
                for name in names:
                    rounds = rng.randint(1, 60)
                    score = rounds * rng.randint(100, 900)
                    weekly = rng.random() < 0.4
                    weekly_score = min(score, rng.randint(1, 5000)) if weekly else 0
                    rows.append(
                        (ids[name], name, rng.choice(regions), score, rounds, season if weekly else "", weekly_score)
                    )
                insert_rows(Player, ["user", "name", "region", "score", "rounds_played", "week", "weekly_score"], rows)
            done += size
            progress.update(done)
        return done
