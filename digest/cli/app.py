"""The ``digest`` command group and what every command shares: config, errors, consoles."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from ..config import Settings
from ..config.load import load_settings
from ..errors import DigestError
from ..pipeline import Pipeline
from ..subscribers.roster import RowProblem

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


def pipeline_of(ctx: click.Context) -> Pipeline:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "pipeline" not in obj:
        settings: Settings = load_settings(obj.get("config"))
        obj["pipeline"] = Pipeline(settings)
        ctx.call_on_close(obj["pipeline"].close)
    pipeline: Pipeline = obj["pipeline"]
    return pipeline


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


def hint_if_never_collected(pipeline: Pipeline, command: str) -> None:
    """Say that ``command`` does not collect, when no source has ever been read."""
    if not any(h.last_attempt for h in pipeline.store.sources.health()):
        err.print(
            f"hint: nothing has been collected yet; {command} does not collect: run "
            "`digest collect` first (or `digest run`, which collects, builds and sends)",
            highlight=False,
            markup=False,
        )


def handled(f: F) -> F:
    """Run a command with user errors turned into one line and an exit code."""

    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _user_errors():
            return f(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@click.group()
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
