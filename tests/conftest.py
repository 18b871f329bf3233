"""Shared fixtures: a temporary copy of the default project, and paths to ../shared."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ["tests.browser", "tests.databases", "tests.workers_helpers"]
ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SAMPLE_PAGE = SHARED / "samples" / "nato-warms-to-russia.txt"


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Path:
    """A copy of the defaults (config, templates, roster, posts) in a temporary folder.

    The config's relative ``../shared/samples`` source is pointed at the real shared folder.
    Its ``[database] url`` stays the relative ``digest.db`` on SQLite, and is this test's own
    PostgreSQL database when ``DIGEST_TEST_DATABASE_URL`` says so (``tests/databases.py``).
    """
    for name in ("templates", "subscribers", "posts"):
        shutil.copytree(ROOT / name, tmp_path / name)
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('path = "../shared/samples"', f'path = "{SHARED / "samples"}"')
    if not database_url.startswith("sqlite"):
        text = text.replace('url = "sqlite:///digest.db"', f'url = "{database_url}"')
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    return tmp_path


@pytest.fixture
def edit_config(project: Path) -> Callable[[str, str], Path]:
    """Replace a regex in the project's config.toml; returns the config path."""

    def edit(pattern: str, replacement: str) -> Path:
        path = project / "config.toml"
        text = path.read_text(encoding="utf-8")
        new, n = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
        assert n == 1, f"pattern {pattern!r} not found in config"
        path.write_text(new, encoding="utf-8")
        return path

    return edit


def needs_shared(path: Path = SAMPLE_PAGE) -> None:
    """Skip when ``path`` in ../shared is absent; on CI (``CI=true``), where it always is
    beside the project, fail instead, so that nothing is skipped there by accident."""
    if path.exists():
        return
    where = f"{path} is missing: clone digest beside the shared folder (../shared)"
    if os.environ.get("CI") == "true":
        pytest.fail(where)
    pytest.skip(where)
