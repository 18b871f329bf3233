"""``digest worker``: a Celery worker that sends ledger chunks for ``digest send``."""

from __future__ import annotations

import os

import click

from ..config.load import load_settings
from .app import handled, main


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Pool processes sending chunks at once (default: the number of cores).",
)
@click.option(
    "--queues", help="Comma-separated queues to take chunks from (default [workers] queue)."
)
@click.pass_context
@handled
def worker(ctx: click.Context, concurrency: int | None, queues: str | None) -> None:
    """Take chunks of sends and feeds to parse from the broker ([workers] broker) until SIGTERM."""
    # Celery takes most of a second to import: only this command and sends through workers do
    from ..workers.app import shown
    from ..workers.tasks import worker_app

    settings = load_settings(ctx.obj.get("config"))
    app = worker_app(settings, (queues or settings.workers.queue).split(",")[0])
    argv = ["worker", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    argv.append(f"--hostname=digest-{os.getpid()}@%h")  # unique, for several on one host
    argv.append(f"--queues={queues or settings.workers.queue}")
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    click.echo(f"worker on {shown(app.conf.broker_url)}, queues {queues or settings.workers.queue}")
    app.worker_main(argv)
