"""Golden MJML and text of the sample issue.

Regenerate with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.models import ALL, Audience
from digest.render.renderer import Renderer
from digest.render.sample import sample_digest

GOLDEN = Path(__file__).parent / "golden"
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_NORMALIZE = [
    (re.compile(rf"\b(?:{_MONTHS}) \d{{1,2}}, \d{{4}}\b"), "<DATE>"),
    (re.compile(r"\bIssue \d+"), "Issue <N>"),
    (re.compile(r"#\d+\b"), "#<N>"),
    (re.compile(r"/\d+\.html\b"), "/<N>.html"),
    (re.compile(r"\bpost-\d+\b"), "post-<ID>"),
    (re.compile(r"\.[0-9a-f]{24}-"), ".<KEY>-"),  # a rendering's random placeholder key
]


def normalize(text: str) -> str:
    """``text`` with dates, issue numbers and ids replaced by stable markers."""
    for pattern, marker in _NORMALIZE:
        text = pattern.sub(marker, text)
    return text


CASES = {
    "sample.mjml": (Audience(ALL, ()), "mjml"),
    "sample.txt": (Audience(ALL, ()), "text"),
    "sample-security.mjml": (Audience("security", ("Security", "Human Rights")), "mjml"),
    "sample-security.txt": (Audience("security", ("Security", "Human Rights")), "text"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sample_issue_matches_golden(project: Path, name: str) -> None:
    audience, part = CASES[name]
    renderer = Renderer(load_settings(project / "config.toml"))
    (segment,) = renderer.render_segments(sample_digest(), [audience])
    got = normalize(getattr(segment.email, part))
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 pytest tests/test_golden.py"
    assert got == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, regenerate with UPDATE_GOLDEN=1 pytest tests/test_golden.py"
    )


def test_normalize_is_stable_across_numbers_and_dates() -> None:
    a = normalize("Issue 12 · March 2, 2026 #12 /archive/weekly/12.html post-101")
    b = normalize("Issue 3 · May 30, 2027 #3 /archive/weekly/3.html post-7")
    assert a == b == "Issue <N> · <DATE> #<N> /archive/weekly/<N>.html post-<ID>"
