"""django-ratelimit's own test suite (``django_ratelimit/tests.py`` from the installed
version's sdist) passes against our rate limiter, imports swapped by a shim
(``tests/peers/ratelimit_runner.py``), on a private Redis."""

from __future__ import annotations

from typing import Any

from tests.peers.ratelimit_exclusions import DJANGO_RATELIMIT
from tests.peers.ratelimit_runner import run_in_subprocess, summary_line
from tests.peers.report import report_peer


def test_django_ratelimit_suite_passes(topology: Any) -> None:
    summary, output = run_in_subprocess("django-ratelimit", topology.url)
    report_peer(summary_line("django-ratelimit", summary, DJANGO_RATELIMIT))
    assert len(summary["ran"]) == 52, output
    assert summary["skipped"] == [], output
    assert sorted(set(DJANGO_RATELIMIT) - set(summary["ran"])) == [], "stale entries in the exclusion list"
    assert [t for t in summary["failed"] if t not in DJANGO_RATELIMIT] == [], output
