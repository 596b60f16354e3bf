"""``manage.py check --deploy`` on the example's own settings: only the documented warning."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.example import subprocess_site


def test_check_deploy_behind_tls_leaves_only_the_documented_warning(topology: Any, tmp_path: Path) -> None:
    env = subprocess_site.env(topology.url, f"sqlite:///{tmp_path / 'db.sqlite3'}", HTTPS="1")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=subprocess_site.EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # docs/operations.md: W021 (HSTS preload) stays on purpose; nothing else.
    assert re.findall(r"\((\S+\.[WE]\d+)\)", output) == ["security.W021"], output
