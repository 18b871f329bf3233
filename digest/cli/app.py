"""The ``digest`` command group and what every command shares: errors and consoles.

A command's module is imported when the command is run (``LazyGroup``), not with this one:
``bin/digest`` then starts in a tenth of a second, not one (every command's library), and so
does each process that runs it again (a collect's parsing processes, under multiprocessing's
forkserver: see ``sources/feed/pool.py``).
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from ..errors import DigestError

if TYPE_CHECKING:
    from ..subscribers.roster import RowProblem

COMMANDS: Mapping[str, str] = {
    "approve": "schedule",
    "build": "commands",
    "collect": "commands",
    "db": "db",
    "issues": "delivery",
    "posts": "posts",
    "run": "commands",
    "runs": "schedule",
    "schedule": "schedule",
    "scheduler": "schedule",
    "send": "delivery",
    "serve": "serve",
    "sources": "sources",
    "status": "status",
    "subscribers": "subscribers",
    "summarize": "commands",
    "suppressions": "suppressions",
    "templates": "templates",
    "unapprove": "schedule",
    "worker": "workers",
}
"""Each top-level command, and the module of ``digest.cli`` that defines it on ``main``."""
F = TypeVar("F", bound=Callable[..., Any])
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except DigestError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
        sys.exit(exc.exit_code)


def warn_rows(problems: Iterable[RowProblem]) -> None:
    """Print each roster row's problem once per command, however often the roster was read."""
    ctx = click.get_current_context(silent=True)
    seen: set[str] = (
        ctx.find_root().ensure_object(dict).setdefault("rows_reported", set()) if ctx else set()
    )
    for problem in problems:
        if str(problem) not in seen:
            seen.add(str(problem))
            err.print(f"[yellow]warning:[/] {escape(str(problem))}", highlight=False)


def handled(f: F) -> F:
    """Run a command with user errors turned into one line and an exit code."""

    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _user_errors():
            return f(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class LazyGroup(click.Group):
    """A group whose commands' modules (``COMMANDS``) are imported when a command is looked
    up (click's documented pattern for lazily loaded subcommands)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"{__package__}.{COMMANDS[cmd_name]}")  # it adds itself
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="DIGEST_CONFIG",
    help="Config file (default ./config.toml; env DIGEST_CONFIG).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.version_option(package_name="digest")
@click.pass_context
def main(ctx: click.Context, config: Path | None, verbose: bool) -> None:
    """Collect the week's posts, build the digest, and send it."""
    ctx.ensure_object(dict)["config"] = config
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_time=False, show_path=False)],
        force=True,
    )
