"""``/preferences/<token>``: choose areas of focus, a time zone, or unsubscribe.

Every POST names its ``action``: ``save`` with at least one area, ``all`` for every area,
``timezone`` (a list sent in readers' zones: an IANA name, or empty for the list's), or
``unsubscribe``. Anything else, an empty body included, is refused and changes nothing.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from ..waves.zones import check_zone, zone_names
from .context import TooLarge, Web, read_form, web_of
from .links import Link, LinkError, check_link
from .unsubscribe import done_page, unsubscribe


def _form_page(
    web: Web,
    link: Link,
    chosen: tuple[str, ...],
    saved: bool = False,
    error: str | None = None,
    zone: str | None = None,
) -> Response:
    areas = web.taxonomy.names
    lst = next((x for x in web.settings.lists if x.name == link.list_name), None)
    local = lst is not None and lst.deliver == "local"
    return web.page(
        "preferences.html",
        400 if error else 200,
        error=error,
        list_name=link.list_name,
        email=link.subscriber.email,
        areas=[(i, name, name in chosen) for i, name in enumerate(areas)],
        saved=saved,
        local=local,
        list_zone=lst.timezone if lst else "UTC",
        zone=zone if zone is not None else (link.subscriber.timezone or ""),
        zones=zone_names() if local else [],
    )


def _not_understood(web: Web, message: str) -> Response:
    return web.page("error.html", 400, title="Not understood", message=message)


def _current(web: Web, link: Link) -> tuple[str, ...]:
    return tuple(
        a for a in web.taxonomy.normalize(link.subscriber.areas) if a in web.taxonomy.names
    )


async def handle(request: Request) -> Response:
    web = web_of(request)
    try:
        link = await run_in_threadpool(check_link, web, request.path_params["token"])
    except LinkError as exc:
        return web.page("error.html", exc.status, title=exc.title, message=exc.message)
    if link.subscriber.status != "active":
        return done_page(web, link)
    if request.method in ("GET", "HEAD"):
        return _form_page(web, link, _current(web, link))
    try:
        form = await read_form(request)
    except TooLarge:
        return web.page("error.html", 413, title="Too large", message="The request is too large.")
    action = (form.get("action") or [""])[-1]
    if action == "unsubscribe":
        await run_in_threadpool(unsubscribe, web, link, "preferences page")
        return done_page(web, link)
    if action == "timezone":
        return await _set_zone(web, link, (form.get("timezone") or [""])[-1].strip())
    chosen = form.get("areas", [])
    names = web.taxonomy.names
    if action not in ("save", "all") or any(a not in names for a in chosen):
        return _not_understood(web, "Please choose from the list shown.")
    if action == "save" and not chosen:
        error = "Check at least one area, or choose “Every area”."
        return _form_page(web, link, _current(web, link), error=error)
    ordered = tuple(n for n in names if n in chosen) if action == "save" else ()
    await run_in_threadpool(
        web.store.subscribers.set_areas, link.subscriber.id, ordered, web.clock()
    )
    return _form_page(web, link, ordered, saved=True)


async def _set_zone(web: Web, link: Link, zone: str) -> Response:
    """Record the reader's zone (empty: the list's); an unknown name is refused, with the
    nearest one suggested, and changes nothing."""
    if zone:
        try:
            check_zone(zone)
        except ValueError as exc:
            current = _current(web, link)
            return _form_page(web, link, current, error=f"{str(exc)[0].upper()}{str(exc)[1:]}.")
    await run_in_threadpool(
        web.store.subscribers.set_timezone, link.subscriber.id, zone or None, web.clock()
    )
    return _form_page(web, link, _current(web, link), saved=True, zone=zone)
