"""Helpers for the test commands: file-based gates, so tests never rely on sleeps for ordering."""

from __future__ import annotations

import os
import time
from pathlib import Path


def mark(directory: str, name: str, text: str = "") -> None:
    path = Path(directory) / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def wait_for(directory: str, name: str, limit: float = 60.0) -> None:
    path = Path(directory) / name
    end = time.monotonic() + limit
    while not path.exists():
        if time.monotonic() > end:
            raise SystemExit(f"gate {name} never opened")
        time.sleep(0.01)


def append(directory: str, name: str, line: str) -> None:
    with open(Path(directory) / name, "a") as f:
        f.write(line + "\n")
