"""The web version: each issue as a standalone page in an archive folder, with an index.

Files are ``<[archive] path>/<list>/<number>.html`` plus ``index.html`` (newest first) and
``issues.json`` (the index's data). Serve ``[archive] path`` so that ``[archive] url`` points
at the pages; the emails' "view in browser" and "N more posts" links use that URL.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import DigestError
from .models import BuiltIssue, Digest
from .render.renderer import Renderer
from .render.templates import web_url

log = logging.getLogger(__name__)
MANIFEST = "issues.json"


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, so a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Archive:
    """Writes web versions of issues and the index of a list's past issues."""

    def __init__(self, settings: Settings, renderer: Renderer | None = None):
        self.settings = settings
        self.renderer = renderer or Renderer(settings)

    def folder(self, list_name: str) -> Path:
        return Path(self.settings.archive.path) / list_name

    def url(self, list_name: str, number: int) -> str:
        """The public URL of the issue's page."""
        return web_url(self.settings, list_name, number)

    def entries(self, list_name: str) -> list[dict[str, Any]]:
        """The index's entries, newest first; an unreadable manifest counts as empty."""
        path = self.folder(list_name) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable archive manifest, rebuilding it: %s", path, exc)
            return []
        entries = data.get("issues", []) if isinstance(data, dict) else []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("number"), int)]

    def publish(self, issue: BuiltIssue | Digest) -> Path:
        """Write the issue's page and refresh the list's index; returns the page's path.

        A built issue's page and subject are the ones the build phase rendered.
        """
        if isinstance(issue, BuiltIssue) and issue.web_page is not None:
            digest, html, subject = issue.digest, issue.web_page(), issue.email.subject
        else:
            digest = issue.digest if isinstance(issue, BuiltIssue) else issue
            render = self.renderer.issue(digest)
            html, subject = render.web_page(), render.base["subject"]
        folder = self.folder(digest.list_name)
        page = folder / f"{digest.number}.html"
        try:
            _write(page, html)
            entry = {
                "number": digest.number,
                "date": self.renderer.issue_date(digest),
                "subject": subject,
                "posts": len(digest.posts),
                "href": page.name,
                "url": self.url(digest.list_name, digest.number),
            }
            others = [e for e in self.entries(digest.list_name) if e["number"] != digest.number]
            entries = sorted([entry, *others], key=lambda e: -int(e["number"]))
            _write(folder / MANIFEST, json.dumps({"issues": entries}, indent=2) + "\n")
            _write(folder / "index.html", self.renderer.archive_index(digest.list_name, entries))
        except OSError as exc:
            raise DigestError(
                f"cannot write the archive: {exc.strerror or exc}",
                subject=str(folder),
                hint="check [archive] path",
            ) from None
        log.debug("archived %s issue %d at %s", digest.list_name, digest.number, page)
        return page
