"""LockedCommand, @command_lock and ``manage.py redis_locks``, run the way cron runs them."""

from __future__ import annotations

import io
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_redis_patterns.locks import lock
from django_redis_patterns.locks.core import LockKeys
from django_redis_patterns.testing.servers import free_port
from tests.locks.conftest import wait_file
from tests.locks_app.management.commands.slot_job import Command as SlotJob
from tests.topologies import all_topologies

JOB_LOCK = "command:locks_app.locked_job"


def _ran(directory: Path) -> list[str]:
    path = directory / "ran"
    return path.read_text().splitlines() if path.exists() else []


@all_topologies
def test_second_concurrent_run_skips_with_one_line(manage: Any, tmp_path: Path) -> None:
    first = manage("locked_job", "--dir", str(tmp_path), "--gate", "go")
    wait_file(tmp_path / f"started-{first.pid}", first)
    second = manage("locked_job", "--dir", str(tmp_path))
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"skipped: locked_job is already running on {socket.gethostname()} pid {first.pid} since "
    )
    (tmp_path / "go").write_text("")
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert out.strip() == "done"
    assert len(_ran(tmp_path)) == 1


def test_second_concurrent_run_fails_with_75(manage: Any, tmp_path: Path) -> None:
    first = manage("locked_job", "--dir", str(tmp_path), "--gate", "go")
    wait_file(tmp_path / f"started-{first.pid}", first)
    second = manage("locked_job", "--dir", str(tmp_path), LOCKED_JOB_ON_BUSY="fail")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 75
    assert out == ""
    assert err.strip() == err.strip().splitlines()[0]
    assert err.startswith(f"busy: locked_job is already running on {socket.gethostname()} pid {first.pid} since ")
    # --lock-wait: waits for the first run, then runs.
    waiter = manage("locked_job", "--dir", str(tmp_path), "--lock-wait", "60")
    time.sleep(0.5)
    assert waiter.poll() is None
    (tmp_path / "go").write_text("")
    assert first.wait(60) == 0
    out, err = waiter.communicate(timeout=60)
    assert waiter.returncode == 0, err
    assert len(_ran(tmp_path)) == 2


def test_lock_wait_that_runs_out_exits_75(manage: Any, tmp_path: Path) -> None:
    first = manage("locked_job", "--dir", str(tmp_path), "--gate", "go")
    try:
        wait_file(tmp_path / f"started-{first.pid}", first)
        waiter = manage("locked_job", "--dir", str(tmp_path), "--lock-wait", "0.3")
        _, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 75
        assert "busy: locked_job is already running" in err and "(waited 0.3s)" in err
        # --no-lock and --lock-key run regardless of the held default lock.
        for extra in (["--no-lock"], ["--lock-key", "something-else"]):
            other = manage("locked_job", "--dir", str(tmp_path), *extra)
            _, err = other.communicate(timeout=60)
            assert other.returncode == 0, err
        assert len(_ran(tmp_path)) == 3
    finally:
        (tmp_path / "go").write_text("")
        first.wait(60)


def test_lock_lost_mid_run_exits_non_zero(manage: Any, tmp_path: Path) -> None:
    job = manage("losing_job", "--dir", str(tmp_path))
    wait_file(tmp_path / "started", job)
    out = io.StringIO()
    call_command("redis_locks", "release", "command:locks_app.losing_job", "--force", stdout=out)
    assert out.getvalue().startswith("released command:locks_app.losing_job (was held on ")
    (tmp_path / "go").write_text("")
    out_text, err = job.communicate(timeout=60)
    assert job.returncode == 1
    assert "finished the work" in out_text
    assert err.startswith("error: losing_job lost its lock while running: ")
    assert len(err.strip().splitlines()) == 1


def test_unreachable_redis_exits_69_with_one_line(tmp_path: Path, manage: Any) -> None:
    import subprocess
    import sys

    from tests.locks.conftest import ROOT, child_env

    proc = subprocess.run(
        [sys.executable, "-m", "django", "locked_job", "--dir", str(tmp_path), "--settings=tests.settings"],
        env=child_env(f"redis://127.0.0.1:{free_port()}/0"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 69
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("error: locked_job not started: cannot reach Redis (cache alias 'default')")
    assert _ran(tmp_path) == []


@all_topologies
def test_slot_mode_runs_once_per_period(topology: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(SlotJob, "lock_period", 1.0)
    outputs: list[str] = []

    def cron(host: int) -> None:
        # Two "servers" whose crons fire over and over, at different moments.
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            out = io.StringIO()
            call_command("slot_job", "--dir", str(tmp_path), stdout=out)
            outputs.append(out.getvalue())
            time.sleep(0.05 + host * 0.03)

    threads = [threading.Thread(target=cron, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    periods = [int(p) for p in _ran(tmp_path)]
    assert len(periods) == len(set(periods)), f"a period ran twice: {periods}"
    assert len(periods) >= 3
    assert any(o.startswith("skipped: slot_job already ran or is running this period") for o in outputs)


def test_slot_mode_failed_run_frees_the_period(topology: Any, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        call_command("slot_job", "--dir", str(tmp_path / "missing"))
    call_command("slot_job", "--dir", str(tmp_path), stdout=io.StringIO())
    assert len(_ran(tmp_path)) == 1


@all_topologies
def test_command_lock_decorator_and_option_keys(topology: Any) -> None:
    out = io.StringIO()
    call_command("decorated_job", stdout=out)
    assert out.getvalue().strip() == "ran"
    with lock("command:locks_app.decorated_job", ttl=10):
        with pytest.raises(CommandError) as info:
            call_command("decorated_job", stdout=io.StringIO())
        assert info.value.returncode == 75
        assert str(info.value).startswith("busy: decorated_job is already running on ")
    with lock("tenant-job:acme", ttl=10):
        with pytest.raises(CommandError):
            call_command("tenant_job", "acme", stdout=io.StringIO())
        out = io.StringIO()
        call_command("tenant_job", "globex", stdout=out)
        assert out.getvalue().strip() == "ran for globex"


@all_topologies
def test_redis_locks_list_show_release(topology: Any) -> None:
    names = [f"inventory:{i}" for i in range(12)]  # spread over every Cluster primary
    held = [lock(n, ttl=30) for n in names]
    for h in held:
        assert h.acquire()
    out = io.StringIO()
    call_command("redis_locks", "list", stdout=out)
    listing = out.getvalue().splitlines()
    assert listing[0].split() == ["NAME", "HOLDER", "SINCE", "TTL", "RENEWALS", "FENCE"]
    assert sorted(line.split()[0] for line in listing[1:]) == sorted(names)
    out = io.StringIO()
    call_command("redis_locks", "show", "inventory:3", stdout=out)
    text = out.getvalue()
    assert "state:         held" in text and f"fencing token: {held[3].fencing_token}" in text
    with pytest.raises(CommandError, match="--force"):
        call_command("redis_locks", "release", "inventory:3")
    out = io.StringIO()
    call_command("redis_locks", "release", "inventory:3", "--force", stdout=out)
    assert out.getvalue().startswith("released inventory:3")
    from django_redis_patterns import get_redis

    assert get_redis().exists(LockKeys.for_name("inventory:3").lock) == 0
    out = io.StringIO()
    call_command("redis_locks", "show", "inventory:3", stdout=out)
    assert "state:         free" in out.getvalue()
    for h in held[:3] + held[4:]:
        h.release()
    out = io.StringIO()
    call_command("redis_locks", "list", stdout=out)
    assert out.getvalue().strip() == "no locks held"


def test_bad_lock_wait_is_a_usage_error(topology: Any, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--lock-wait must be >= 0"):
        call_command("locked_job", "--dir", str(tmp_path), "--lock-wait", "-1")
    assert _ran(tmp_path) == []


def test_slot_mode_keeps_the_key_until_the_period_ends(topology: Any, tmp_path: Path) -> None:
    from django_redis_patterns import get_redis

    call_command("slot_job", "--dir", str(tmp_path), stdout=io.StringIO())
    client = get_redis()
    left = client.pttl(LockKeys.for_name("command:locks_app.slot_job").lock)
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000
    period_ms = int(SlotJob.lock_period * 1000)
    # The key expires at an hour boundary (the end of its period, Redis clock), not after lock_ttl.
    offset = (now_ms + left) % period_ms
    assert left > 0 and min(offset, period_ms - offset) < 1000
    out = io.StringIO()
    call_command("slot_job", "--dir", str(tmp_path), stdout=out)
    assert out.getvalue().startswith("skipped: slot_job already ran or is running this period")
    assert len(_ran(tmp_path)) == 1


def test_default_renewal_keeps_a_one_second_lock_while_the_command_runs(manage: Any, tmp_path: Path) -> None:
    # renewing_job: lock_ttl = 1 and lock_renew left at its default (True).
    first = manage("renewing_job", "--dir", str(tmp_path), "--gate", "go")
    try:
        wait_file(tmp_path / "started", first)
        time.sleep(2.0)  # twice the ttl: without renewals the lock would have expired by now
        assert first.poll() is None
        second = manage("renewing_job", "--dir", str(tmp_path))
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert len(out.splitlines()) == 1, out
        assert out.startswith(
            f"skipped: renewing_job is already running on {socket.gethostname()} pid {first.pid} since "
        )
    finally:
        (tmp_path / "go").write_text("")
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    done = dict(part.split("=") for part in out.split()[1:])
    assert out.startswith("done ") and done["held"] == "True"
    assert int(done["renewals"]) >= 2  # held at least 2 s on a 1 s ttl


def test_class_level_wait_runs_the_second_command_after_the_first(manage: Any, tmp_path: Path, topology: Any) -> None:
    # waiting_job: lock_on_busy = "wait" and lock_wait (WAITING_JOB_WAIT, default 60) as class
    # attributes; no --lock-wait flag is given.
    from django_redis_patterns import get_redis

    first = manage("waiting_job", "--dir", str(tmp_path), "--gate", "go")
    try:
        wait_file(tmp_path / f"started-{first.pid}", first)
        # The class-level lock_wait bounds the wait: 0.5 s, then busy (exit 75).
        impatient = manage("waiting_job", "--dir", str(tmp_path), WAITING_JOB_WAIT="0.5")
        out, err = impatient.communicate(timeout=60)
        assert impatient.returncode == 75, (out, err)
        assert err.startswith(f"busy: waiting_job is already running on {socket.gethostname()} pid {first.pid}")
        assert "(waited 0.5s)" in err
        second = manage("waiting_job", "--dir", str(tmp_path))
        waiting = LockKeys.for_name("command:locks_app.waiting_job").waiting
        end = time.monotonic() + 60
        while not get_redis().exists(waiting):  # the second run is blocked on the lock
            assert second.poll() is None, second.communicate()
            assert time.monotonic() < end, "the second run never waited"
            time.sleep(0.01)
        assert second.poll() is None and not (tmp_path / f"started-{second.pid}").exists()
    finally:
        (tmp_path / "go").write_text("")
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    assert out.strip() == "done"
    runs = [line.split() for line in _ran(tmp_path)]
    assert [int(pid) for pid, _, _ in runs] == [first.pid, second.pid]
    (_, _, first_end), (_, second_start, _) = runs
    assert float(second_start) >= float(first_end)  # serialized: the second began after the first ended
