"""``manage.py redis_locks list | show NAME | release NAME --force``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_redis_patterns.exceptions import RedisUnavailable

from ... import core, inspection


def _ttl(ms: int | None) -> str:
    return "no expiry" if ms is None else f"{ms / 1000:.1f}s"


class Command(BaseCommand):
    help = "List, inspect and force-release Redis locks (django_redis_patterns.locks)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--using", help="cache alias (default: REDIS_PATTERNS['LOCKS']['USING'])")
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="locks held now, on every primary")
        show = sub.add_parser("show", help="who holds a lock, since when, renewals, fencing token")
        show.add_argument("name")
        release = sub.add_parser("release", help="delete a lock whoever holds it")
        release.add_argument("name")
        release.add_argument("--force", action="store_true", help="required: you are breaking someone's lock")

    def handle(self, *args: Any, **options: Any) -> None:
        using = options.get("using")
        try:
            getattr(self, f"do_{options['action']}")(using, options)
        except (RedisUnavailable, *core.UNAVAILABLE_ERRORS) as exc:  # type: ignore[misc]
            raise CommandError(f"cannot reach Redis (alias {core.resolve_alias(using)!r}): {exc}", returncode=69)
        except ValueError as exc:
            raise CommandError(str(exc))

    def do_list(self, using: str | None, options: dict[str, Any]) -> None:
        rows = []
        for name in sorted(inspection.held_names(using)):
            lock = inspection.info(name, using)
            if lock.owner is None:
                continue  # released between SCAN and the look-up
            o = lock.owner
            rows.append(
                (name, f"{o.host} pid {o.pid}", o.since(), _ttl(lock.ttl_ms), str(o.renewals), str(o.fencing_token))
            )
        if not rows:
            self.stdout.write("no locks held")
            return
        header = ("NAME", "HOLDER", "SINCE", "TTL", "RENEWALS", "FENCE")
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())

    def do_show(self, using: str | None, options: dict[str, Any]) -> None:
        lock = inspection.info(options["name"], using)
        self.stdout.write(f"name:          {lock.name}")
        last = lock.last_fencing_token if lock.last_fencing_token is not None else "none issued"
        if lock.owner is None:
            self.stdout.write("state:         free")
            self.stdout.write(f"last fencing:  {last}")
            return
        o = lock.owner
        self.stdout.write("state:         held")
        self.stdout.write(f"host:          {o.host}")
        self.stdout.write(f"pid:           {o.pid}")
        self.stdout.write(f"command line:  {o.argv}")
        self.stdout.write(f"acquired at:   {o.since()}")
        self.stdout.write(f"expires in:    {_ttl(lock.ttl_ms)}")
        self.stdout.write(f"renewals:      {o.renewals}")
        self.stdout.write(f"fencing token: {o.fencing_token}")
        self.stdout.write(f"last fencing:  {last}")

    def do_release(self, using: str | None, options: dict[str, Any]) -> None:
        if not options["force"]:
            raise CommandError(
                f"refusing to release {options['name']!r} without --force: its holder still believes it holds it"
            )
        lock = inspection.info(options["name"], using)
        if inspection.force_release(options["name"], using):
            who = f" (was held {lock.owner.describe()})" if lock.owner else ""
            self.stdout.write(f"released {options['name']}{who}")
        else:
            self.stdout.write(f"{options['name']} was not held")
