"""What a command needs of its run: the pipeline built from the config, once per command."""

from __future__ import annotations

from typing import Any

import click

from ..config.load import load_settings
from ..pipeline import Pipeline
from .app import err


def pipeline_of(ctx: click.Context) -> Pipeline:
    """The pipeline of ``--config`` (built on first use, closed with the command)."""
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "pipeline" not in obj:
        obj["pipeline"] = Pipeline(load_settings(obj.get("config")))
        ctx.call_on_close(obj["pipeline"].close)
    pipeline: Pipeline = obj["pipeline"]
    return pipeline


def hint_if_never_collected(pipeline: Pipeline, command: str) -> None:
    """Say that ``command`` does not collect, when no source has ever been read."""
    if not any(h.last_attempt for h in pipeline.store.sources.health()):
        err.print(
            f"hint: nothing has been collected yet; {command} does not collect: run "
            "`digest collect` first (or `digest run`, which collects, builds and sends)",
            highlight=False,
            markup=False,
        )
