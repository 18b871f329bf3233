"""The desk's POST actions: post controls, approve, unapprove, send a test, log in and out.

Each checks the CSRF token first, takes the desk's lock, logs who did what, and answers JSON
to the page's script (``Accept: application/json``) or a 303 back to the page for a plain form.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ...errors import DigestError
from ...models import ALL, Headline
from ...store.issues import frozen
from .auth import actor_of, checked_form, new_session, set_session, token_matches
from .compose import (
    MAX_PREHEADER,
    MAX_SUBJECT,
    MAX_SUMMARY,
    move,
    one_line,
    set_headline,
    test_addresses,
)
from .state import Desk, desk_of
from .view import segment_label

log = logging.getLogger(__name__)
POST_ACTIONS = {
    "set-summary", "clear-summary", "exclude", "include", "pin", "unpin", "set-area",
    "move-up", "move-down",
}  # fmt: skip
NOT_WHEN_EXCLUDED = {"pin", "set-area", "move-up", "move-down"}
"""Controls that mean nothing for a post left out of the issue."""


def _desk(request: Request) -> Desk:
    return desk_of(request)


def _first(form: dict[str, list[str]], key: str) -> str:
    return (form.get(key) or [""])[0]


def _done(request: Request, message: str, notice: str, anchor: str = "") -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"ok": True, "message": message})
    root = request.scope.get("root_path", "")
    segment = request.query_params.get("segment", "")
    query = f"?notice={notice}" + (f"&segment={segment}" if segment else "")
    target = f"{root}/lists/{request.path_params['list']}{query}{anchor}"
    return RedirectResponse(target, 303)


def _post_value(desk: Desk, action: str, form: dict[str, list[str]]) -> str | None:
    """The edit's value from the form (a tidied summary or a canonical area), or None."""
    if action not in POST_ACTIONS:
        raise HTTPException(400, f"Unknown action {action!r}.")
    if action == "set-summary":
        summary = " ".join(_first(form, "summary").split())
        if not summary:
            raise HTTPException(400, "Write a summary, or use the automatic one.")
        if len(summary) > MAX_SUMMARY:
            raise HTTPException(400, f"Keep the summary under {MAX_SUMMARY} characters.")
        return summary
    if action == "set-area":
        area = _first(form, "area").strip()
        return desk.pipeline.builder.taxonomy.canonical(area) if area else None
    return None


async def post_action(request: Request) -> Response:
    """Apply one editor control to a post of the coming issue."""
    desk = _desk(request)
    form = await checked_form(request, desk.access)
    name = desk.list_name(request)
    post_id = int(request.path_params["post_id"])
    action = _first(form, "action")
    value = _post_value(desk, action, form)
    actor = actor_of(request)

    def apply() -> str:
        pipeline = desk.pipeline
        with desk.lock:
            built = pipeline.build(name)
            if built.stored is not None:
                change = "its posts can no longer change"
                error = frozen(name, built.stored.number, built.stored.status, change)
                raise HTTPException(409, str(error))
            post = next((p for p in pipeline.candidates(name) if p.id == post_id), None)
            if post is None:
                raise HTTPException(404, f"Post {post_id} is not in the coming issue of {name}.")
            if post.excluded and action in NOT_WHEN_EXCLUDED:
                verb = "pinning" if action == "pin" else "moving"
                raise HTTPException(
                    409, f"“{post.title}” is excluded: include it before {verb} it."
                )
            if action in ("move-up", "move-down"):
                step = -1 if action == "move-up" else 1
                message = move(pipeline, name, post_id, step, actor)
                log.info("desk: %s did %s on post %d of %s", actor, action, post_id, name)
                return message
            try:
                pipeline.store.posts.edit(post_id, action, value, actor, pipeline.clock())
            except DigestError as exc:  # the post is in another list's frozen issue
                raise HTTPException(409, str(exc)) from None
        log.info("desk: %s did %s on post %d (%s) of %s", actor, action, post_id, post.title, name)
        shown = f" → {value}" if value and action == "set-area" else ""  # a summary is in view
        return f"{post.title}: {action.replace('-', ' ')}{shown}"

    message = await run_in_threadpool(apply)
    return _done(request, message, "saved", f"#post-{post_id}")


async def approve(request: Request) -> Response:
    """Approve the coming issue for sending (the schedule's approval gate)."""
    desk = _desk(request)
    form = await checked_form(request, desk.access)
    name = desk.list_name(request)
    if _first(form, "confirm") != "yes":
        raise HTTPException(400, "Tick the box to confirm the issue is ready.")
    actor = actor_of(request)

    def run() -> str:
        pipeline = desk.pipeline
        with desk.lock:
            number = pipeline.build(name).digest.number
            try:
                pipeline.approve(name, actor)
            except DigestError as exc:
                raise HTTPException(409, str(exc)) from None
        log.info("desk: %s approved %s issue #%d", actor, name, number)
        return f"Issue #{number} is approved."

    return _done(request, await run_in_threadpool(run), "approved")


async def unapprove(request: Request) -> Response:
    """Take back the coming issue's approval, before its send begins; it is editable again."""
    desk = _desk(request)
    await checked_form(request, desk.access)
    name = desk.list_name(request)
    actor = actor_of(request)

    def run() -> str:
        with desk.lock:
            try:
                number = desk.pipeline.unapprove(name, actor).number
            except DigestError as exc:
                raise HTTPException(409, str(exc)) from None
        log.info("desk: %s unapproved %s issue #%d", actor, name, number)
        return f"Issue #{number} is a draft again."

    return _done(request, await run_in_threadpool(run), "unapproved")


async def send_test(request: Request) -> Response:
    """Send the coming issue as the segment on screen gets it, marked [TEST], to editor
    addresses from ``[desk] editors`` or one typed in a domain of ``[desk] test_domains``."""
    desk = _desk(request)
    form = await checked_form(request, desk.access)
    name = desk.list_name(request)
    chosen = test_addresses(desk.settings, form.get("to", []), _first(form, "other"))
    segment = _first(form, "segment")[:500] or ALL
    actor = actor_of(request)

    def run() -> str:
        pipeline = desk.pipeline
        with desk.lock:
            built = pipeline.build(name)
            number = built.digest.number
            if pipeline.builder.segment(built, segment) is None:
                raise HTTPException(404, f"No segment {segment!r}.")
            label = segment_label(pipeline, built, segment)
            try:
                report = pipeline.send_test(name, chosen, segment=segment)
            except DigestError as exc:
                raise HTTPException(502, f"The test did not go out: {exc}") from None
            counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts.items()))
            detail = f"as “{label}” to {', '.join(chosen)}: {counts or report.outcome}"
            pipeline.store.desk.record(name, number, "test-send", detail, actor, pipeline.clock())
        log.info("desk: %s sent a test of %s issue #%d %s", actor, name, number, detail)
        where = f" ({report.destination})" if report.destination else ""
        return f"Test of issue #{number} sent {detail}{where}."

    return _done(request, await run_in_threadpool(run), "test-sent")


async def headline(request: Request) -> Response:
    """Set (or reset to automatic) the coming issue's subject and preheader, or a segment's."""
    desk = _desk(request)
    form = await checked_form(request, desk.access)
    name = desk.list_name(request)
    segment = _first(form, "segment")[:500]
    if _first(form, "action") == "reset":
        chosen = Headline()
    else:
        chosen = Headline(
            one_line(_first(form, "subject"), "subject", MAX_SUBJECT),
            one_line(_first(form, "preheader"), "preheader", MAX_PREHEADER),
        )
    actor = actor_of(request)

    def run() -> str:
        with desk.lock:
            number = set_headline(desk.pipeline, name, segment, chosen, actor)
        whose = f"segment {segment}" if segment else "the issue"
        log.info("desk: %s set the headline of %s of %s issue #%d", actor, whose, name, number)
        if chosen.subject is None and chosen.preheader is None:
            return f"The automatic subject and preheader apply to {whose} again."
        return f"Saved the subject and preheader of {whose}."

    return _done(request, await run_in_threadpool(run), "saved")


async def login(request: Request) -> Response:
    """The login page (GET), and checking the editor's name and token (POST)."""
    desk = _desk(request)
    root = request.scope.get("root_path", "")
    if not desk.access.login_required:
        return RedirectResponse(f"{root}/", 303)
    if request.method in ("GET", "HEAD"):
        return desk.page(request, "desk_login.html", error=None, name="")
    form = await checked_form(request, desk.access)
    name = " ".join(_first(form, "name").split())[:100]
    client = request.client.host if request.client else "?"
    wait = desk.throttle.wait(client)
    if wait:
        log.warning("desk: login as %r from %s refused: too many failed logins", name, client)
        minutes = -(-wait // 60)
        error = f"Too many failed logins. Try again in {minutes} minute{'s' * (minutes != 1)}."
        answer = desk.page(request, "desk_login.html", 429, error=error, name=name)
        answer.headers["retry-after"] = str(wait)
        return answer
    if not name:
        error = "Give your name and the desk token."
        return desk.page(request, "desk_login.html", 401, error=error, name=name)
    if not token_matches(desk.access, _first(form, "token")):
        desk.throttle.failed(client)
        log.warning("desk: failed login as %r from %s", name, client)
        error = "That token is not right."
        return desk.page(request, "desk_login.html", 401, error=error, name=name)
    desk.throttle.succeeded(client)
    set_session(request, new_session(name, desk.pipeline.clock()))
    log.info("desk: %s logged in", name)
    return RedirectResponse(f"{root}/", 303)


async def logout(request: Request) -> Response:
    desk = _desk(request)
    await checked_form(request, desk.access)
    log.info("desk: %s logged out", actor_of(request))
    set_session(request, None)
    return RedirectResponse(f"{request.scope.get('root_path', '')}/login", 303)
