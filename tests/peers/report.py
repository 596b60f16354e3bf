"""One-line summaries of the peers' suites, printed at the end of the pytest run.

    from tests.peers.report import report_peer
    report_peer("django-ratelimit 4.1.0: 52 of 52 passed")

``tests/peers/conftest.py`` prints the collected lines in the terminal summary, so
``.ci/run``'s output shows each suite's result.
"""

from __future__ import annotations

LINES: list[str] = []


def report_peer(line: str) -> None:
    LINES.append(line)
