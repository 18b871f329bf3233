"""``/unsubscribe/<token>``: one-click POST (RFC 8058) and a confirm page that never acts on GET."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .context import TooLarge, Web, read_form, web_of
from .links import Link, LinkError, check_link

log = logging.getLogger(__name__)
ONE_CLICK = ("List-Unsubscribe", "One-Click")


def unsubscribe(web: Web, link: Link, detail: str) -> None:
    """Record the unsubscribe; every later send, and unsent chunks of this one, skip it."""
    if web.suppressions.unsubscribe(link.subscriber.id, detail, "web", web.clock()):
        log.info(
            "unsubscribed subscriber %d from %s (%s)", link.subscriber.id, link.list_name, detail
        )


def done_page(web: Web, link: Link) -> Response:
    return web.page("unsubscribed.html", list_name=link.list_name, email=link.subscriber.email)


async def handle(request: Request) -> Response:
    web = web_of(request)
    try:
        link = await run_in_threadpool(check_link, web, request.path_params["token"])
    except LinkError as exc:
        return web.page("error.html", exc.status, title=exc.title, message=exc.message)
    if request.method in ("GET", "HEAD"):
        if link.subscriber.status != "active":
            return done_page(web, link)
        return web.page("unsubscribe.html", list_name=link.list_name, email=link.subscriber.email)
    try:
        form = await read_form(request)
    except TooLarge:
        return web.page("error.html", 413, title="Too large", message="The request is too large.")
    if form.get(ONE_CLICK[0]) != [ONE_CLICK[1]]:
        return web.page(
            "error.html",
            400,
            title="Not understood",
            message="Use the Unsubscribe button on the previous page.",
        )
    detail = "confirm page" if form.get("via") == ["page"] else "one-click"
    await run_in_threadpool(unsubscribe, web, link, detail)
    return done_page(web, link)
