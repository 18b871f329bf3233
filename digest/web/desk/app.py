"""The editors' desk: preview, adjust and approve each list's coming issue in the browser.

``create_desk_app(pipeline, host=...)`` is a Starlette app; ``digest serve`` mounts it at
``/desk``. Pages and previews are GET only and change nothing; every action is a POST
checked for its CSRF token (see ``desk_actions``). Access rules live in ``desk_auth``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ...config import Settings
from ...errors import DigestError, NotFoundError
from ...models import ALL
from ...pipeline import Pipeline
from ...store import Store
from . import actions as desk_actions
from . import view as desk_view
from .auth import DeskGuard, desk_access
from .live import LiveHub
from .state import Desk, desk_of, refresh

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
STATIC = Path(__file__).parent.parent / "static"
PREVIEW_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; font-src https: "
        "data:; sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    ),
    "x-frame-options": "SAMEORIGIN",
}
"""Previews hold feed content: no script runs, nothing submits, only the desk may frame them."""
NOTICES = {
    "approved": "The issue is approved.",
    "unapproved": "The approval is taken back; the issue is a draft again.",
    "test-sent": "The test is sent.",
    "saved": "Saved.",
}


async def home(request: Request) -> Response:
    desk = desk_of(request)
    cards = await run_in_threadpool(desk.overview)
    return desk.page(request, "desk.html", cards=cards)


async def list_page(request: Request) -> Response:
    desk = desk_of(request)
    name = desk.list_name(request)
    ctx = await run_in_threadpool(desk.list_context, name, request.query_params.get("segment", ALL))
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return desk.page(request, "desk_list.html", notice=notice, **ctx)


async def live_regions(request: Request) -> Response:
    """The page's changing regions alone, for the script to swap in after an action."""
    desk = desk_of(request)
    name = desk.list_name(request)
    ctx = await run_in_threadpool(desk.list_context, name, request.query_params.get("segment", ALL))
    return desk.page(request, "desk_live.html", notice=None, **ctx)


async def preview(request: Request) -> Response:
    """The segment's email (HTML, or ``?format=text``) for a sandboxed iframe."""
    desk = desk_of(request)
    name = desk.list_name(request)
    segment = request.query_params.get("segment", ALL)

    def render() -> tuple[str, str]:
        with desk.lock:
            view = desk_view.issue_view(desk.pipeline, name, segment)
        if view is None:
            raise HTTPException(404, f"No segment {segment!r}.")
        return desk_view.preview_html(view.email), desk_view.preview_text(view.email)

    try:
        html, text = await run_in_threadpool(render)
    except DigestError as exc:
        return PlainTextResponse(f"The preview did not render:\n\n{exc}", 500, PREVIEW_HEADERS)
    if request.query_params.get("format") == "text":
        return PlainTextResponse(text, headers=PREVIEW_HEADERS)
    return HTMLResponse(html, headers=PREVIEW_HEADERS)


async def past_issue(request: Request) -> Response:
    """A past issue's frozen HTML, sandboxed like the previews."""
    desk = desk_of(request)
    name = desk.list_name(request)
    number = int(request.path_params["number"])
    try:
        html = await run_in_threadpool(desk_view.stored_issue_html, desk.pipeline, name, number)
    except NotFoundError:
        raise HTTPException(404, f"No issue #{number} of {name}.") from None
    return HTMLResponse(html, headers=PREVIEW_HEADERS)


async def events(request: Request) -> Response:
    """Server-Sent Events: ``ready``, then ``change`` whenever templates or posts change."""
    return StreamingResponse(
        desk_of(request).live.stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": False, "message": exc.detail}, exc.status_code)
    return PlainTextResponse(str(exc.detail), exc.status_code)


def _pages(settings: Settings) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(settings.templates.path) / "web")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _folders(settings: Settings) -> dict[str, Path]:
    """The folders live reload watches: templates, and every directory source's folder."""
    folders = {"templates": Path(settings.templates.path)}
    for source in settings.sources:
        if source.enabled and source.type == "directory":
            folders[f"source:{source.name}"] = Path(source.options.path)
    return folders


def create_desk_app(pipeline: Pipeline, *, host: str | None = None) -> Starlette:
    """The desk for ``pipeline``'s lists, served on ``host`` (default ``[web] host``).

    Raises ConfigError when ``host`` is not a loopback address and no login token is set.
    """
    settings = pipeline.settings
    access = desk_access(settings, host or settings.web.host)
    routes = [
        Route("/", home, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        Route("/login", desk_actions.login, methods=["GET", "POST"]),
        Route("/logout", desk_actions.logout, methods=["POST"]),
        Route("/lists/{list}", list_page, methods=["GET"]),
        Route("/lists/{list}/live", live_regions, methods=["GET"]),
        Route("/lists/{list}/preview", preview, methods=["GET"]),
        Route("/lists/{list}/issues/{number:int}", past_issue, methods=["GET"]),
        Route("/lists/{list}/posts/{post_id:int}", desk_actions.post_action, methods=["POST"]),
        Route("/lists/{list}/approve", desk_actions.approve, methods=["POST"]),
        Route("/lists/{list}/unapprove", desk_actions.unapprove, methods=["POST"]),
        Route("/lists/{list}/test", desk_actions.send_test, methods=["POST"]),
        Route("/lists/{list}/headline", desk_actions.headline, methods=["POST"]),
        Mount("/assets", StaticFiles(directory=STATIC), name="assets"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    lock = threading.Lock()
    hub = LiveHub(_folders(settings), partial(refresh, pipeline, lock))
    app.state.desk = Desk(pipeline, access, _pages(settings), hub, lock)
    app.add_middleware(DeskGuard, access=access, clock=pipeline.clock)
    log.info(
        "editors' desk: %s",
        "login with the token required" if access.login_required else "this machine only",
    )
    return app


def desk_app(
    settings: Settings,
    store: Store,
    *,
    host: str | None = None,
    clock: Clock = lambda: datetime.now(UTC),
) -> Starlette:
    """The desk over ``settings`` and ``store`` (what ``digest serve`` mounts at ``/desk``)."""
    return create_desk_app(Pipeline(settings, store, clock), host=host)
