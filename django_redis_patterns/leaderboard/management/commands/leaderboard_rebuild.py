"""``manage.py leaderboard_rebuild [app_label.Model ...] [--check]``.

Rebuilds each model's board from its table (atomic swap; readers never see a partial
board) with a progress bar, and with ``period_field`` its current period boards too; or
with ``--check`` reports drift, and boards Redis no longer holds (their marker is missing),
and changes nothing (exit status 1 when any board drifts or is missing). No arguments:
every model using ``LeaderboardMixin``.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_redis_patterns.leaderboard import periods
from django_redis_patterns.leaderboard.board import LeaderboardUnavailable
from django_redis_patterns.leaderboard.heal import marker_present
from django_redis_patterns.leaderboard.models import LeaderboardMixin, ModelLeaderboard, board_for
from django_redis_patterns.leaderboard.rebuild import Period, RebuildError, check, rebuild


class Progress:
    """A one-line progress bar on stderr (only when it is a terminal or verbosity >= 2)."""

    def __init__(self, stream: Any, total: int, label: str, enabled: bool):
        self.stream, self.total, self.label, self.enabled = stream, max(total, 1), label, enabled
        self.started = time.perf_counter()

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = min(width, int(width * done / self.total))
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        self.stream.write(
            f"\r  {self.label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{self.total:,} ({rate:,.0f}/s)"
        )
        self.stream.flush()

    def end(self) -> None:
        if self.enabled:
            self.stream.write("\n")


class Command(BaseCommand):
    help = "Rebuild leaderboards from the database (atomic swap), or --check them for drift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("models", nargs="*", metavar="app_label.Model", help="default: every leaderboard model")
        parser.add_argument("--check", action="store_true", help="report drift; change nothing; exit 1 on drift")
        parser.add_argument("--force", action="store_true", help="start even if another rebuild's marker exists")

    def handle(self, *args: str, **options: Any) -> None:
        verbosity = int(options["verbosity"])
        boards = [board_for(model) for model in self._models(tuple(options["models"]))]
        if not boards:
            raise CommandError("no model uses LeaderboardMixin")
        drifted = 0
        for board in boards:
            try:
                if options["check"]:
                    drifted += not self._check(board, verbosity)
                else:
                    self._rebuild(board, verbosity, options["force"])
            except LeaderboardUnavailable as exc:
                raise CommandError(str(exc)) from exc
            except RebuildError as exc:
                raise CommandError(f"{board.name}: {exc}") from exc
        if drifted:
            raise CommandError(f"{drifted} leaderboard(s) drifted from the database; run leaderboard_rebuild")

    def _models(self, labels: tuple[str, ...]) -> list[Any]:
        if not labels:
            return [m for m in apps.get_models() if issubclass(m, LeaderboardMixin)]
        out = []
        for label in labels:
            try:
                model = apps.get_model(label)
            except (LookupError, ValueError):
                raise CommandError(f"unknown model {label!r} (use app_label.ModelName)") from None
            if not issubclass(model, LeaderboardMixin):
                raise CommandError(f"{label} does not use LeaderboardMixin")
            out.append(model)
        return out

    def _rebuild(self, board: ModelLeaderboard, verbosity: int, force: bool) -> None:
        total = board.db_queryset().count()
        bar = Progress(self.stderr, total, board.name, verbosity >= 2 or (verbosity >= 1 and sys.stderr.isatty()))
        result = rebuild(board, force=force, progress=bar)
        bar.end()
        if verbosity:
            self.stdout.write(
                f"{board.name}: rebuilt with {result.members:,} members in {result.seconds:.2f}s "
                f"({result.rate:,.0f} members/s)"
            )
        if not board.periods_heal:
            return
        # the current period boards come back exactly from period_field (finished ones would
        # lose the members who scored since: those are left to reads, see docs)
        today = dt.datetime.now(dt.UTC).date()
        for kind in board.periods:
            period = Period(kind, periods.start(kind, today))
            result = rebuild(board, force=force, period=period)
            if verbosity:
                self.stdout.write(f"{board.name} {period.suffix[1:]}: rebuilt with {result.members:,} members")

    def _check(self, board: ModelLeaderboard, verbosity: int) -> bool:
        drift = check(board)
        held = marker_present(board)
        if not held:
            # Redis lost the board (or it was never built): whatever syncs wrote since is partial
            self.stdout.write(
                f"{board.name}: MISSING from Redis (no marker {board.marker_key}): "
                + ("the first read rebuilds it" if board.self_heal else "self-healing is off: reads raise BoardMissing")
            )
        if drift.ok:
            if held and verbosity:
                self.stdout.write(f"{board.name}: in sync ({drift.members:,} members)")
            return held
        self.stdout.write(
            f"{board.name}: DRIFT rows={drift.rows:,} members={drift.members:,} missing={drift.missing:,} "
            f"extra={drift.extra:,} mismatched={drift.mismatched:,} wrong_partition={drift.wrong_partition:,}"
        )
        for kind, members in drift.examples.items():
            self.stdout.write(f"  {kind}: {', '.join(members)}")
        return False
