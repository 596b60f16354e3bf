"""Child processes for the lock tests: ``python -m tests.locks.worker <mode> <dir> ...``.

mutex DIR ITERATIONS   wait for DIR/go, then ITERATIONS x (lock; read-increment-write DIR/counter)
                       logging "enter/exit pid fence" lines to DIR/log inside the lock
hold DIR TTL           take lock "stalled" with renew=True, mark DIR/held, wait for DIR/go, leave the
                       block; prints LOST / RELEASED
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _wait(path: Path) -> None:
    while not path.exists():
        time.sleep(0.005)


def mutex(directory: Path, iterations: int) -> None:
    from django_redis_patterns.locks import lock

    _wait(directory / "go")
    counter = directory / "counter"
    for _ in range(iterations):
        with lock("mutex-test", ttl=10, timeout=60) as held:
            with open(directory / "log", "a") as log:
                log.write(f"enter {os.getpid()} {held.fencing_token}\n")
                log.flush()
                value = int(counter.read_text() or "0")
                # Widen the race window: without mutual exclusion increments would be lost.
                time.sleep(0.001)
                counter.write_text(str(value + 1))
                log.write(f"exit {os.getpid()} {held.fencing_token}\n")


def hold(directory: Path, ttl: float) -> None:
    from django_redis_patterns.locks import LockLost, lock

    try:
        with lock("stalled", ttl=ttl, renew=True) as held:
            (directory / "fence").write_text(str(held.fencing_token))
            (directory / "held").write_text("1")
            _wait(directory / "go")
            print("HELD_AFTER_RESUME", held.held, flush=True)
        print("RELEASED", flush=True)
    except LockLost:
        print("LOST", flush=True)


def main() -> None:
    import django

    django.setup()
    mode, directory = sys.argv[1], Path(sys.argv[2])
    if mode == "mutex":
        mutex(directory, int(sys.argv[3]))
    elif mode == "hold":
        hold(directory, float(sys.argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
