"""DRF's own throttling tests (``tests/test_throttling.py`` from the installed version's
sdist) pass against our throttles, swapped in by a shim (``tests/peers/ratelimit_runner.py``),
on a private Redis; the excluded ones (``ratelimit_exclusions.DRF``) are covered on the
real clock by ``test_drf_real_clock.py``."""

from __future__ import annotations

from typing import Any

from tests.peers.ratelimit_exclusions import DRF
from tests.peers.ratelimit_runner import run_in_subprocess, summary_line
from tests.peers.report import report_peer


def test_drf_throttling_suite_passes(topology: Any) -> None:
    summary, output = run_in_subprocess("drf", topology.url)
    report_peer(summary_line("drf", summary, DRF))
    assert len(summary["ran"]) == 29, output
    assert summary["skipped"] == [], output
    assert sorted(set(DRF) - set(summary["ran"])) == [], "stale entries in the exclusion list"
    assert [t for t in summary["failed"] if t not in DRF] == [], output
    assert len(summary["passed"]) >= len(summary["ran"]) - len(DRF), output
