"""Debian's SpamAssassin, local rules only, on every message of the sample issue's raw bytes.

Skips where ``spamassassin`` is not installed; fails under ``CI=true`` (.ci/run installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .cli_helpers import run_digest

SCORE = re.compile(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", re.M)


def spamassassin() -> str:
    found = shutil.which("spamassassin")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("spamassassin missing on CI (.ci/run installs it)")
        pytest.skip("spamassassin not installed (apt install spamassassin)")
    return found


def test_every_message_of_the_sample_issue_scores_zero_or_below(project: Path) -> None:
    binary = spamassassin()
    result = run_digest(project, "run")
    assert result.returncode == 0, result.stderr
    files = sorted((project / "outbox").glob("weekly/*/*.eml"))
    assert len(files) >= 5
    for path in files:
        report = subprocess.run(
            [binary, "-L", "-t"],
            input=path.read_bytes(),
            capture_output=True,
            timeout=120,
            check=True,
        ).stdout.decode("utf-8", "replace")
        score = SCORE.search(report)
        assert score is not None, report[-2000:]
        details = report[report.find("Content analysis") :]
        assert float(score.group(1)) <= 0, f"{path.name}:\n{details}"
        assert "HTML_FONT_LOW_CONTRAST" not in report
