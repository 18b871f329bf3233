"""axe-core inside Chromium: the accessibility check the browser tests share.

``axe_violations(page)`` injects ``node_modules/axe-core/axe.min.js`` (installed by ``npm ci``
from ``package.json``; ``make test`` runs it where npm exists) into a Playwright page and returns
the violations of the given impacts. Without the file the calling test skips, naming the command
to run; under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def axe_script() -> str:
    """The axe-core source, or skip (fail on CI) when it is not installed."""
    if not AXE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{AXE} missing: run `npm ci` (make test does it where npm exists)")
        pytest.skip("axe-core not installed: run `npm ci`")
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any, impacts: tuple[str, ...] = SERIOUS) -> list[dict[str, Any]]:
    """Run axe-core on the page as rendered; the violations whose impact is in ``impacts``."""
    page.add_script_tag(content=axe_script())
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [v for v in result["violations"] if v.get("impact") in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and node, for an assertion message."""
    lines = []
    for violation in violations:
        for node in violation.get("nodes", [])[:5]:
            lines.append(f"{violation['id']} ({violation['impact']}): {node.get('target')}")
    return "\n".join(lines)
