"""The ``digest serve`` web app: unsubscribe, preferences and the SendGrid Event Webhook."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..config import Settings
from ..errors import TemplateError
from ..store import Store
from ..taxonomy import Taxonomy
from ..tokens import Signer
from . import ops, preferences, unsubscribe, webhooks
from .archive import archive_mount
from .context import Web
from .desk.app import desk_app

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
HEADERS = {
    b"content-security-policy": (
        b"default-src 'none'; style-src 'self'; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'"
    ),
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"x-frame-options": b"DENY",
    b"cache-control": b"no-store",
}
"""Sent with every answer: links carry tokens, so nothing is cached, framed or referred."""


class SecurityHeaders:
    """ASGI middleware adding HEADERS to every HTTP answer."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS.items() if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _page_environment(settings: Settings) -> jinja2.Environment:
    folder = Path(settings.templates.path) / "web"
    if not (folder / "base.html").is_file():
        raise TemplateError(
            "web page templates not found",
            subject=str(folder),
            hint="copy templates/web from digest's default project",
        )
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def create_app(
    settings: Settings,
    store: Store,
    *,
    signer: Signer | None = None,
    clock: Clock = lambda: datetime.now(UTC),
    host: str | None = None,
) -> Starlette:
    """The ASGI app, with its routes under the path of ``[newsletter] base_url``."""
    signer = signer or Signer.from_env(settings.newsletter.signing_key_env, allow_ephemeral=False)
    pages = _page_environment(settings)
    prefix = urlsplit(settings.newsletter.base_url).path.rstrip("/")
    web = Web(
        settings=settings,
        store=store,
        signer=signer,
        clock=clock,
        pages=pages,
        prefix=prefix,
        taxonomy=Taxonomy(settings.taxonomy),
        suppressions=store.suppressions,
        events=store.events,
        webhook_key=webhooks.public_key(settings),
    )
    css = (Path(settings.templates.path) / "web" / "web.css").read_text(encoding="utf-8")

    async def stylesheet(request: Request) -> Response:
        return Response(css, media_type="text/css", headers={"cache-control": "max-age=3600"})

    routes: list[BaseRoute] = [
        Route("/unsubscribe/{token}", unsubscribe.handle, methods=["GET", "POST"]),
        Route("/preferences/{token}", preferences.handle, methods=["GET", "POST"]),
        Route("/webhooks/sendgrid", webhooks.sendgrid, methods=["POST"]),
        Route("/assets/web.css", stylesheet, methods=["GET"]),
        Route("/healthz", ops.healthz(settings, store), methods=["GET"]),
        Mount("/desk", app=desk_app(settings, store, host=host, clock=clock)),  # editors' desk
    ]
    if settings.web.metrics:
        routes.append(Route("/metrics", ops.metrics(settings, store), methods=["GET"]))
    archive = archive_mount(settings)  # the target of "view in browser"
    if archive is not None:
        routes.append(archive)
    app = Starlette(routes=[Mount(prefix, routes=routes)] if prefix else routes)
    app.add_middleware(SecurityHeaders)
    app.state.web = web
    return app
