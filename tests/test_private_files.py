"""Files holding readers' addresses and live tokens are owner-only, whatever the umask."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_helpers import cli_env
from .databases import on_postgres


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def digest_with_umask_022(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=project,
        env=cli_env(DIGEST_SIGNING_KEY="test-signing-key-0123456789abcdef"),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )


def test_database_outbox_and_exports_are_owner_only(project: Path) -> None:
    if on_postgres():
        pytest.skip("the database file's mode is SQLite's: on PostgreSQL there is no file")
    result = digest_with_umask_022(project, "run")
    assert result.returncode == 0, result.stderr
    db = project / "digest.db"
    assert mode(db) == 0o600
    outbox = project / "outbox"
    folders = [outbox, *(p for p in outbox.rglob("*") if p.is_dir())]
    messages = list(outbox.rglob("*.eml"))
    assert len(folders) >= 3 and len(messages) >= 6
    assert {p: mode(p) for p in folders} == {p: 0o700 for p in folders}
    assert {p: mode(p) for p in messages} == {p: 0o600 for p in messages}

    export = project / "export.csv"
    export.write_text("left by someone else\n", encoding="utf-8")
    export.chmod(0o644)
    result = digest_with_umask_022(project, "subscribers", "export", "--out", str(export))
    assert result.returncode == 0, result.stderr
    assert mode(export) == 0o600 and "ben.carter@example.com" in export.read_text("utf-8-sig")

    # SQLite gives the -wal and -shm files the database's mode, whoever opens it next.
    old = os.umask(0o022)
    try:
        conn = sqlite3.connect(db)
        try:
            conn.execute("PRAGMA user_version = 1")
            conn.commit()
            wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
            assert (mode(wal), mode(shm)) == (0o600, 0o600)
        finally:
            conn.close()
    finally:
        os.umask(old)
