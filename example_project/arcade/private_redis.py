"""Where the example's private redis-server is: the one ``scripts/run-example`` starts.

``run-example`` keeps that server's data in ``example_project/.redis/`` (append-only file) and
writes ``.redis/env`` there (``REDIS_URL=...`` and ``REDIS_PID=...``) while it runs, so every
``manage.py`` started from another terminal reaches the same Redis without ``REDIS_URL``.
``ARCADE_REDIS_DIR`` moves that folder (the tests use a temporary one).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def folder() -> Path:
    return Path(os.environ.get("ARCADE_REDIS_DIR") or BASE_DIR / ".redis")


def read_env(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of ``path`` ({} when it does not exist)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def redis_url() -> str:
    """``REDIS_URL`` from the environment, else the running private server's; never a guess."""
    if os.environ.get("REDIS_URL"):
        return os.environ["REDIS_URL"]
    where = folder()
    found = read_env(where / "env")
    if found.get("REDIS_URL") and alive(found.get("REDIS_PID", "")):
        return found["REDIS_URL"]
    state = "has stopped" if found else "is not running"
    raise ImproperlyConfigured(
        f"REDIS_URL is not set and the example's private redis-server {state} (no live server in "
        f"{where / 'env'}). Start it with ./scripts/run-example (keep it running; its data is kept "
        "in that folder), or set REDIS_URL=redis://host:port/db to use another Redis."
    )


def running(wait: float = 60.0) -> str:
    """The URL of the private server ``folder()/env`` records, once it answers (it may be
    loading its data). LookupError when none is recorded or its process is gone;
    RuntimeError when one is recorded and alive but does not answer as ours."""
    import time

    import redis

    where = folder()
    found = read_env(where / "env")
    url, pid = found.get("REDIS_URL", ""), found.get("REDIS_PID", "")
    if not url or not alive(pid):
        raise LookupError(f"no private redis-server is running ({where / 'env'})")
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    deadline = time.monotonic() + wait
    while True:
        try:
            client.ping()  # raises BusyLoadingError while it reads its append-only file
            served = Path(str(client.config_get("dir")["dir"])).resolve()
            break
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.BusyLoadingError) as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the private redis-server (pid {pid}) recorded in {where / 'env'} does not answer on "
                    f"{url} ({exc}); stop it, or delete that file if pid {pid} is not a redis-server"
                ) from exc
            time.sleep(0.1)
        finally:
            client.close()
    if served != where.resolve():  # another server took the port after ours stopped
        raise RuntimeError(f"{url} is a redis-server serving {served}, not {where}; delete {where / 'env'}")
    return url


def main() -> int:
    """``python -m arcade.private_redis``: print the running private server's URL (exit 0);
    exit 1 when none runs (start one), 2 when the recorded one cannot be used (message)."""
    import sys

    try:
        print(running())
    except LookupError:
        return 1
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
