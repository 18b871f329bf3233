"""What ``bin/digest`` and a collect's parsing processes import: each command's module when
that command runs, and never the store or the send for a parse (``digest.cli.app``,
``digest.sources.feed.pool``)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import digest.cli
from digest.cli.app import COMMANDS, main

HEAVY = ("sqlalchemy", "alembic", "digest.store", "digest.pipeline", "digest.send", "jinja2")


def imported_by(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_every_command_is_found_where_the_group_looks_for_it() -> None:
    for info in pkgutil.iter_modules(digest.cli.__path__):
        importlib.import_module(f"digest.cli.{info.name}")
    where = {name: cmd.callback.__module__ for name, cmd in main.commands.items() if cmd.callback}
    assert set(where) == set(COMMANDS)
    assert {name: f"digest.cli.{module}" for name, module in COMMANDS.items()} == where


def test_the_console_script_imports_a_command_only_when_it_runs() -> None:
    started = imported_by("from digest.cli import main")
    assert not {m for m in started if m.startswith(HEAVY)}, "bin/digest imports the library"
    assert not {f"digest.cli.{m}" for m in COMMANDS.values()} & started
    ran = imported_by(
        "from click.testing import CliRunner\nfrom digest.cli import main\n"
        "assert CliRunner().invoke(main, ['db', '--help']).exit_code == 0"
    )
    assert "digest.cli.db" in ran and "digest.cli.delivery" not in ran


def test_a_parsing_process_imports_neither_the_store_nor_the_send() -> None:
    loaded = imported_by(
        "import importlib\nfrom digest.sources.feed.pool import preloaded\n"
        "for name in preloaded():\n"
        "    if name != '__main__':\n"
        "        importlib.import_module(name)"
    )
    assert "digest.sources.feed.job" in loaded
    assert not {m for m in loaded if m.startswith(HEAVY)}, "the forkserver imports the store"
