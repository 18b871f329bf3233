"""What every desk handler shares: the pipeline, access rule, page templates, live hub, lock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ...collect import collect, make_sources
from ...config import Settings
from ...errors import DigestError
from ...models import ALL
from ...pipeline import Pipeline
from ...waves import runs as wave_runs
from . import view as desk_view
from .auth import DeskAccess, csrf_token, session_of
from .compose import MAX_PREHEADER, MAX_SUBJECT, MAX_SUMMARY
from .live import LiveHub
from .throttle import LoginThrottle


@dataclass
class Desk:
    """What every desk handler shares, kept on ``app.state.desk``."""

    pipeline: Pipeline
    access: DeskAccess
    pages: jinja2.Environment
    live: LiveHub
    lock: threading.Lock
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    """Failed logins; one per ``digest serve`` process."""

    @property
    def settings(self) -> Settings:
        return self.pipeline.settings

    def page(self, request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        """Render ``templates/web/<template>`` with what every desk page needs."""
        session = session_of(request)
        try:
            page = self.pages.get_template(template)
        except jinja2.TemplateNotFound:
            raise HTTPException(
                500, f"The desk's page {template} is missing: copy templates/web/desk*.html"
            ) from None
        html = page.render(
            root=request.scope.get("root_path", ""),
            newsletter=self.settings.newsletter.name,
            language=self.settings.newsletter.language,
            lists=[lst.name for lst in self.settings.lists],
            actor=session.actor,
            login_required=self.access.login_required,
            csrf=csrf_token(self.access, session),
            **ctx,
        )
        return HTMLResponse(html, status_code=status)

    def list_name(self, request: Request) -> str:
        """The configured list named in the path; 404 for any other."""
        name = str(request.path_params["list"])
        if name not in {lst.name for lst in self.settings.lists}:
            raise HTTPException(404, f"No list named {name!r}.")
        return name

    def list_context(self, list_name: str, segment: str) -> dict[str, Any]:
        """Everything the list page and its live fragment show."""
        with self.lock:
            ctx: dict[str, Any] = {"list_name": list_name, "segment_key": segment}
            try:
                view = desk_view.issue_view(self.pipeline, list_name, segment)
                if view is None:
                    raise HTTPException(404, f"No segment {segment!r}.")
                ctx.update(
                    view=view,
                    text=desk_view.preview_text(view.email),
                    posts=desk_view.post_views(self.pipeline, list_name),
                    error=None,
                )
            except DigestError as exc:
                ctx.update(view=None, text="", posts=[], error=str(exc))
            taxonomy = self.pipeline.builder.taxonomy
            ctx.update(
                areas=[*taxonomy.names, taxonomy.catch_all],
                editors=self.settings.desk.editors,
                test_domains=self.settings.desk.test_domains,
                max_subject=MAX_SUBJECT,
                max_preheader=MAX_PREHEADER,
                max_summary=MAX_SUMMARY,
                archive=desk_view.archive_rows(self.pipeline, list_name),
                actions=desk_view.actions(self.pipeline, list_name),
                waves=wave_runs.desk_plan(self.pipeline, list_name),
            )
            return ctx

    def overview(self) -> list[tuple[str, desk_view.IssueView | None, str | None]]:
        """Each list's coming issue (or the error building it)."""
        cards: list[tuple[str, desk_view.IssueView | None, str | None]] = []
        with self.lock:
            for lst in self.settings.lists:
                try:
                    view = desk_view.issue_view(self.pipeline, lst.name, ALL)
                    cards.append((lst.name, view, None))
                except DigestError as exc:
                    cards.append((lst.name, None, str(exc)))
        return cards


def refresh(pipeline: Pipeline, lock: threading.Lock, folders: set[str]) -> None:
    """After a watched folder changed: reload templates, collect changed post folders."""
    with lock:
        if "templates" in folders:
            pipeline.builder.__dict__.pop("renderer", None)
        names = {f.removeprefix("source:") for f in folders if f.startswith("source:")}
        sources = [s for s in make_sources(pipeline.settings) if s.name in names]
        if sources:
            collect(pipeline.settings, pipeline.store, pipeline.clock(), sources)


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk
