"""``digest worker``: a Celery worker that sends ledger chunks for ``digest send``."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import click
from prometheus_client import start_http_server

from ..config.load import load_settings
from ..errors import ConfigError
from ..ops.metrics import MULTIPROC_ENV, clear_multiprocess_dir, worker_registry
from .app import handled, main

OWN_DIR = "DIGEST_WORKER_METRICS_DIR"
"""Set (to the same path) when ``digest worker`` made the multiprocess directory itself."""


def _multiprocess_dir() -> Path:
    """This worker's directory for prometheus_client's multiprocess files, emptied.

    The mode is chosen when prometheus_client is imported, before any command runs: without
    ``PROMETHEUS_MULTIPROC_DIR`` the worker makes a private directory, sets it, and execs
    itself again (same pid, same arguments) so that every process starts in that mode.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if not given:
        made = tempfile.mkdtemp(prefix="digest-worker-metrics-")
        os.environ[MULTIPROC_ENV] = os.environ[OWN_DIR] = made
        _exec_again()
    path = Path(given)
    if not path.is_dir():
        raise ConfigError(f"{MULTIPROC_ENV} is not a directory", subject=given)
    clear_multiprocess_dir(path)
    if os.environ.get(OWN_DIR) == given:
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _exec_again() -> NoReturn:
    """Replace this process with the same command, started the way it was started."""
    script = Path(sys.argv[0])
    if script.name != "__main__.py" and os.access(script, os.X_OK):  # the console script
        os.execv(script, [str(script), *sys.argv[1:]])
    os.execv(sys.executable, [sys.executable, "-m", "digest", *sys.argv[1:]])  # python -m


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Pool processes sending chunks at once (default: the number of cores).",
)
@click.option(
    "--queues", help="Comma-separated queues to take chunks from (default [workers] queue)."
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    help="Serve Prometheus metrics on this port (default [workers] metrics_port; 0: none).",
)
@click.pass_context
@handled
def worker(
    ctx: click.Context, concurrency: int | None, queues: str | None, metrics_port: int | None
) -> None:
    """Take chunks of sends and feeds to parse from the broker ([workers] broker) until SIGTERM."""
    # Celery takes most of a second to import: only this command and sends through workers do
    from ..workers.app import shown
    from ..workers.tasks import worker_app

    settings = load_settings(ctx.obj.get("config"))
    port = settings.workers.metrics_port if metrics_port is None else metrics_port
    if port:
        _multiprocess_dir()  # first: it may exec this command again
    app = worker_app(settings, (queues or settings.workers.queue).split(",")[0])
    if port:
        host = settings.workers.metrics_host
        try:
            start_http_server(port, addr=host, registry=worker_registry(settings))
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror}",
                subject="[workers] metrics_port",
                hint="give each worker on a host its own port (--metrics-port)",
            ) from None
        click.echo(f"metrics: http://{host}:{port}/metrics")
    argv = ["worker", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    argv.append(f"--hostname=digest-{os.getpid()}@%h")  # unique, for several on one host
    argv.append(f"--queues={queues or settings.workers.queue}")
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    click.echo(f"worker on {shown(app.conf.broker_url)}, queues {queues or settings.workers.queue}")
    app.worker_main(argv)
