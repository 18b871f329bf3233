"""The state every web handler shares, and reading a size-capped form body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from ..config import Settings
from ..store import Store
from ..store.events import EventRepo
from ..store.suppressions import SuppressionRepo
from ..taxonomy import Taxonomy
from ..tokens import Signer

Clock = Callable[[], datetime]
FORM_LIMIT = 64 * 1024


class TooLarge(Exception):
    """The request body is over its limit."""


@dataclass(frozen=True)
class Web:
    """What every handler needs, kept on ``app.state.web``."""

    settings: Settings
    store: Store
    signer: Signer
    clock: Clock
    pages: jinja2.Environment
    prefix: str
    taxonomy: Taxonomy
    suppressions: SuppressionRepo
    events: EventRepo
    webhook_key: Any

    def page(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        """Render ``templates/web/<name>`` as a full HTML page."""
        nl = self.settings.newsletter
        html = self.pages.get_template(name).render(
            newsletter=nl.name,
            postal_address=nl.postal_address,
            language=nl.language,
            css=f"{self.prefix}/assets/web.css",
            **context,
        )
        return HTMLResponse(html, status_code=status)


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing (TooLarge) anything over ``limit`` bytes, declared or streamed."""
    declared = request.headers.get("content-length", "")
    if declared and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge(declared)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(str(len(body)))
    return bytes(body)


async def read_form(request: Request) -> dict[str, list[str]]:
    """A urlencoded or multipart form's fields (text values only); an empty dict for others."""
    body = await read_body(request, FORM_LIMIT)
    ctype = request.headers.get("content-type", "")
    kind = ctype.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    if kind == "multipart/form-data":
        head = f"Content-Type: {ctype}\r\n\r\n".encode("latin-1", "replace")
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        fields: dict[str, list[str]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str) and part.get_filename() is None:
                payload = part.get_payload(decode=True)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                fields.setdefault(name, []).append(text)
        return fields
    return {}
