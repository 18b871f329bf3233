"""docs/security.md stays true: every test it cites exists, and the README links the page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "security.md"


def cited() -> list[tuple[str, str]]:
    return re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", PAGE.read_text(encoding="utf-8"))


def test_every_cited_test_exists() -> None:
    pairs = cited()
    assert len(pairs) >= 20
    for path, name in pairs:
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name in names, f"docs/security.md cites {path}::{name}, which does not exist"


def test_the_readme_links_the_security_page() -> None:
    assert "docs/security.md" in (ROOT / "README.md").read_text(encoding="utf-8")
