"""The peers' own suites (run in subprocesses against our code): print their summary lines."""

from __future__ import annotations

from typing import Any

from tests.peers.report import LINES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if LINES:
        terminalreporter.section("peer suites")
        for line in LINES:
            terminalreporter.write_line(line)
