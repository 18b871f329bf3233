"""Hostile post files: a YAML alias bomb, deep nesting and oversize front matter sink one file,
never the folder, and cost bounded memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

from digest.sources.directory.source import DirectoryOptions, DirectorySource

from .cli_helpers import cli_env

MEMORY_LIMIT = 1536 * 2**20
"""Address space for the collecting process: a few times what a normal collect needs (~350 MB),
far below what expanding the bomb needs."""

GOOD = """---
title: A Good Post
date: 2026-11-20
areas: [Security]
---
The good post beside the bomb still reaches the issue.
"""


def alias_bomb() -> str:
    """Front matter of ~330 bytes whose aliases stand for 9**8 strings (a "billion laughs")."""
    levels = ['&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"&{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "---\ntitle: Bomb\ntags: [" + ", ".join(levels) + "]\n---\nBody.\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_an_alias_bomb_is_one_skipped_file_in_bounded_memory(tmp_path: Path) -> None:
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "bomb.md").write_text(alias_bomb(), encoding="utf-8")
    (posts / "good.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "weekly.csv").write_text("email\nann@example.org\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[[sources]]\nname = "posts"\ntype = "directory"\npath = "posts"\n\n'
        '[[lists]]\nname = "weekly"\nsubscribers = "weekly.csv"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "digest", "collect", "--json"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_memory,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert [p["title"] for p in report["posts"]] == ["A Good Post"]
    (skipped,) = report["skipped"]
    assert skipped["where"] == f"{posts / 'bomb.md'}:3"  # the file and the line of the first alias
    assert "aliases" in skipped["problem"]


def test_deep_nesting_and_oversize_front_matter_are_refused(tmp_path: Path) -> None:
    (tmp_path / "deep.md").write_text(
        "---\ntitle: Deep\ntags: " + "[" * 5000 + "]" * 5000 + "\n---\nBody.\n", encoding="utf-8"
    )
    (tmp_path / "huge.md").write_text(
        "---\ntitle: Huge\nbio: " + "x" * 70_000 + "\n---\nBody.\n", encoding="utf-8"
    )
    (tmp_path / "good.md").write_text(GOOD, encoding="utf-8")
    report = DirectorySource("posts", DirectoryOptions(path=tmp_path)).collect({})
    assert [p.title for p in report.posts] == ["A Good Post"]
    problems = {Path(p.where.split(":")[0]).name: p.message for p in report.problems}
    assert "nested deeper than" in problems["deep.md"]
    assert "front matter is 70," in problems["huge.md"]
