"""Peers' own suites: one summary line per suite at the end of the run (``SUMMARY``)."""

from __future__ import annotations

import pytest

#: Lines the peer-suite tests add ("django-redis 7.0.0 plain: 185 passed, 12 excluded").
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("peer test suites")
        for line in SUMMARY:
            terminalreporter.write_line(line)
