"""Management commands that run once across a fleet: :class:`LockedCommand` and :func:`command_lock`.

    class Command(LockedCommand):
        lock_ttl = 120            # seconds; renewed every ttl/3 while handle() runs (lock_renew)
        lock_on_busy = "skip"     # or "fail" (exit 75) or "wait" (up to --lock-wait / lock_wait)

        def handle(self, *args, **options): ...

Every LockedCommand gets ``--lock-wait SECONDS``, ``--no-lock`` and ``--lock-key KEY``.
``lock_mode = "slot"`` with ``lock_period`` (seconds) runs the command once per period of
the Redis clock: the key stays until the period ends, so a second server whose cron fires
late skips it.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from collections.abc import Callable
from typing import Any, Literal, NoReturn

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser

from . import conf
from .exceptions import LockLost, LockUnavailable
from .lock import Lock, LockHandle

OnBusy = Literal["skip", "wait", "fail"]
Mode = Literal["lease", "slot"]


@dataclasses.dataclass(frozen=True)
class CommandLockOptions:
    key: str | Callable[[dict[str, Any]], str] | None = None
    ttl: float = 60
    renew: bool = True
    on_busy: OnBusy = "skip"
    wait: float | None = None
    mode: Mode = "lease"
    period: float | None = None
    max_hold: float | None = None
    using: str | None = None

    def __post_init__(self) -> None:
        if self.on_busy not in ("skip", "wait", "fail"):
            raise ValueError(f"lock_on_busy must be 'skip', 'wait' or 'fail', got {self.on_busy!r}")
        if self.mode not in ("lease", "slot"):
            raise ValueError(f"lock_mode must be 'lease' or 'slot', got {self.mode!r}")
        if self.mode == "slot" and not self.period:
            raise ValueError("lock_mode='slot' needs lock_period (seconds per schedule period, e.g. 3600)")
        if self.key is not None and not isinstance(self.key, str) and not callable(self.key):
            raise ValueError(f"lock_key must be a string (may use {{option}} fields) or a callable, got {self.key!r}")


def command_name(command: BaseCommand) -> tuple[str, str]:
    """(app label, command name) of a command instance, from its module path."""
    module = type(command).__module__
    name = module.rsplit(".", 1)[-1]
    app = apps.get_containing_app_config(module)
    return (app.label if app else module.split(".", 1)[0]), name


def default_lock_name(command: BaseCommand) -> str:
    """The lock name a command runs under without ``lock_key``: ``command:<app_label>.<command>``."""
    app, name = command_name(command)
    return f"command:{app}.{name}"


def _lock_name(command: BaseCommand, opts: CommandLockOptions, options: dict[str, Any]) -> str:
    if options.get("lock_key"):
        return str(options["lock_key"])
    if opts.key is None:
        return default_lock_name(command)
    if callable(opts.key):
        return str(opts.key(options))
    try:
        return opts.key.format(**options)
    except KeyError as exc:
        raise CommandError(f"lock_key {opts.key!r} names an option the command does not have: {exc}")


def _exit(command: BaseCommand, code: int, line: str) -> NoReturn:
    """One line and an exit status: on the command line exactly that; from call_command a CommandError."""
    if getattr(command, "_called_from_command_line", False):
        command.stderr.write(line)
        sys.exit(code)
    raise CommandError(line, returncode=code)


def run_locked(command: BaseCommand, opts: CommandLockOptions, options: dict[str, Any], body: Callable[[], Any]) -> Any:
    """Run ``body`` under the command's lock, applying the busy/lost/unavailable policies."""
    if options.get("no_lock") or getattr(command, "_drp_lock_held", False):
        return body()
    settings = conf.get()
    _, cmd = command_name(command)
    lock = Lock(
        _lock_name(command, opts, options),
        ttl=opts.ttl,
        renew=opts.renew,
        using=opts.using,
        max_hold=opts.max_hold,
        period=opts.period if opts.mode == "slot" else None,
    )
    lock.log_unavailable = False  # the command reports it, as its one line
    wait = options.get("lock_wait")
    on_busy = "wait" if wait is not None else opts.on_busy
    if wait is None:
        wait = opts.wait
    try:
        handle = lock._acquire(True, wait) if on_busy == "wait" else lock._acquire(False, None)
    except LockUnavailable as exc:
        _exit(command, settings.UNAVAILABLE_EXIT_CODE, f"error: {cmd} not started: {exc}")
    if handle is None:
        owner = lock.last_owner
        where = owner.describe() if owner else "elsewhere"
        if opts.mode == "slot":
            line = f"{cmd} already ran or is running this period ({where})"
        else:
            line = f"{cmd} is already running {where}"
        if on_busy == "skip":
            command.stdout.write(f"skipped: {line}")
            return None
        if on_busy == "wait":
            line += f" (waited {wait:g}s)" if wait is not None else ""
        _exit(command, settings.BUSY_EXIT_CODE, f"busy: {line}")
    command._drp_lock_held = True  # type: ignore[attr-defined]
    #: The handle, for the command's own use (e.g. ``self.lock_handle.fencing_token``).
    command.lock_handle = handle  # type: ignore[attr-defined]
    try:
        result = body()
    except BaseException:
        _finish(handle, failed=True)
        raise
    finally:
        command._drp_lock_held = False  # type: ignore[attr-defined]
    try:
        _finish(handle, failed=False)
    except LockLost as exc:
        _exit(command, settings.LOST_EXIT_CODE, f"error: {cmd} lost its lock while running: {exc}")
    except LockUnavailable as exc:
        _exit(command, settings.UNAVAILABLE_EXIT_CODE, f"error: {cmd} could not release its lock: {exc}")
    return result


def _finish(handle: LockHandle, *, failed: bool) -> None:
    if failed:
        try:
            handle.release()
        except (LockLost, LockUnavailable):
            pass  # the command's own error is the one to report
        return
    if handle.lock.period:
        # Slot mode: the key marks this period as done until it ends (decided on the Redis
        # clock: a local estimate could free the period early and let a late cron run again).
        handle.finish_period()
        return
    handle.release()


def command_lock(
    *,
    key: str | Callable[[dict[str, Any]], str] | None = None,
    ttl: float = 60,
    renew: bool = True,
    on_busy: OnBusy = "skip",
    wait: float | None = None,
    mode: Mode = "lease",
    period: float | None = None,
    max_hold: float | None = None,
    using: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate an existing command's ``handle`` to run it under a lock (options as on LockedCommand)."""
    opts = CommandLockOptions(key, ttl, renew, on_busy, wait, mode, period, max_hold, using)

    def decorate(handle: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handle)
        def wrapper(self: BaseCommand, *args: Any, **options: Any) -> Any:
            return run_locked(self, opts, options, lambda: handle(self, *args, **options))

        return wrapper

    return decorate


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--lock-wait must be a number of seconds, got {text!r}")
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"--lock-wait must be >= 0, got {text!r}")
    return value


class LockedCommand(BaseCommand):
    """A ``BaseCommand`` whose ``handle()`` runs under the lock ``command:<app_label>.<command>``."""

    lock_ttl: float = 60
    lock_renew: bool = True
    lock_on_busy: OnBusy = "skip"
    #: Lock name; a str may use the command's options (``"report:{tenant}"``), or a callable(options).
    lock_key: str | Callable[[dict[str, Any]], str] | None = None
    lock_mode: Mode = "lease"
    #: Slot mode: seconds per schedule period (aligned to the Unix epoch, Redis clock).
    lock_period: float | None = None
    #: Default wait (seconds) for ``lock_on_busy = "wait"``; None waits as long as it takes.
    lock_wait: float | None = None
    lock_max_hold: float | None = None
    lock_using: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "handle" in cls.__dict__:
            original = cls.__dict__["handle"]

            @functools.wraps(original)
            def handle(self: LockedCommand, *args: Any, **options: Any) -> Any:
                return run_locked(self, self.lock_options(), options, lambda: original(self, *args, **options))

            cls.handle = handle  # type: ignore[method-assign,assignment]

    def lock_options(self) -> CommandLockOptions:
        """The lock options of this command, from its ``lock_*`` attributes."""
        return CommandLockOptions(
            key=self.lock_key,
            ttl=self.lock_ttl,
            renew=self.lock_renew,
            on_busy=self.lock_on_busy,
            wait=self.lock_wait,
            mode=self.lock_mode,
            period=self.lock_period,
            max_hold=self.lock_max_hold,
            using=self.lock_using,
        )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        group = parser.add_argument_group("lock (django-redis-patterns)")
        group.add_argument(
            "--lock-wait",
            type=_seconds,
            metavar="SECONDS",
            help="if another run holds the lock, wait up to SECONDS for it (then exit 75)",
        )
        group.add_argument("--no-lock", action="store_true", help="run without taking the lock")
        group.add_argument("--lock-key", metavar="KEY", help="lock name to use instead of the command's default")
        return parser
