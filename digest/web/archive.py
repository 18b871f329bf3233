"""The archive's web versions, served where ``[archive] url`` says they are.

"View in browser" and "N more posts" in every email link to ``[archive] url``; when that URL
lies under ``[newsletter] base_url`` (the default ``{base_url}/archive/{list}/{number}.html``),
``digest serve`` answers it from ``[archive] path``. Only files inside that folder are served:
no dotfiles (the archive's half-written temporaries), nothing outside it through ``..`` or a
symlink.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from ..config import Settings

PAGE = "/{list}/{number}.html"
BASE = "{base_url}"
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        b"form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"cache-control", b"max-age=300"),
]
"""The archive's pages carry their own inline style and may show the theme's logo."""


def archive_prefix(settings: Settings) -> str | None:
    """The path under ``base_url`` where the archive lives, or None when served elsewhere."""
    url = settings.archive.url
    if not (url.startswith(BASE) and url.endswith(PAGE)):
        return None
    prefix = url[len(BASE) : -len(PAGE)].rstrip("/")
    if not prefix.startswith("/") or "{" in prefix:
        return None
    return prefix


class ArchiveFiles(StaticFiles):
    """Static files from the archive folder, never a dotfile, with the archive's headers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        path = self.get_path(scope)
        if any(part.startswith(".") for part in path.replace("\\", "/").split("/")):
            await PlainTextResponse("Not Found", 404)(scope, receive, with_headers)
            return
        await super().__call__(scope, receive, with_headers)


def archive_mount(settings: Settings) -> Mount | None:
    """A route serving ``[archive] path`` at its place under ``base_url``, if it has one."""
    prefix = archive_prefix(settings)
    if prefix is None:
        return None
    files = ArchiveFiles(directory=settings.archive.path, html=True, check_dir=False)
    return Mount(prefix, app=files)
