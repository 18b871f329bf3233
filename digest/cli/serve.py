"""``digest serve``: the unsubscribe, preferences and webhook endpoints under uvicorn."""

from __future__ import annotations

from urllib.parse import urlsplit

import click

from ..web.archive import archive_prefix
from .app import handled, main
from .context import pipeline_of


@main.command()
@click.option("--host", help="Address to bind (default [web] host, 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (default [web] port).")
@click.pass_context
@handled
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the links in every email, the SendGrid Event Webhook and the editors' desk."""
    import uvicorn

    from ..web import create_app

    pipeline = pipeline_of(ctx)
    settings = pipeline.settings
    app = create_app(settings, pipeline.store, host=host or settings.web.host)
    bind_host = host or settings.web.host
    bind_port = settings.web.port if port is None else port
    click.echo(f"serving {settings.newsletter.base_url} at http://{bind_host}:{bind_port}")
    prefix = urlsplit(settings.newsletter.base_url).path.rstrip("/")
    click.echo(f"editors' desk: http://{bind_host}:{bind_port}{prefix}/desk/")
    archive = archive_prefix(settings)
    if archive is None:
        click.echo(f"archive: not served here; serve {settings.archive.path} at [archive] url")
    else:
        click.echo(
            f"archive: http://{bind_host}:{bind_port}{prefix}{archive}/ ({settings.archive.path})"
        )
    uvicorn.run(
        app,
        host=bind_host,
        port=bind_port,
        log_level="info",
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )
