"""Live reload: saving a template or a post file sends a ``change`` event and a new preview."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.desk_setup import DeskSite, open_desk

NEW_POST = """---
title: Desk Live Reload Brings a Fresh Post
author: Maya Okafor
areas:
  - Climate & Energy
url: https://blogs.example.org/2026/11/desk-live-reload/
---

Editors saved a new post file while the desk was open. The desk collected it at once and the
preview showed it without anyone pressing reload. That is the whole point of the loop.
"""


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> DeskSite:
    return open_desk(project, live_server)


def _events(response: httpx.Response) -> Iterator[str]:
    """The names of the SSE events in a streamed response, as they arrive."""
    for line in response.iter_lines():
        if line.startswith("event: "):
            yield line.removeprefix("event: ")


def test_a_template_save_reaches_the_preview(site: DeskSite) -> None:
    template = site.project / "templates" / "digest.txt.j2"
    with site.client() as client, client.stream("GET", "/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream)
        assert next(events) == "ready"
        text = template.read_text(encoding="utf-8")
        template.write_text("LIVE RELOAD MARK\n" + text, encoding="utf-8")
        assert next(events) == "change"
        preview = client.get("/lists/weekly/preview", params={"format": "text"})
    assert preview.text.startswith("LIVE RELOAD MARK")


def test_a_new_post_file_is_collected_and_shown(site: DeskSite) -> None:
    with site.client() as client, client.stream("GET", "/events") as stream:
        events = _events(stream)
        assert next(events) == "ready"
        (site.project / "posts" / "desk-live-reload.md").write_text(NEW_POST, encoding="utf-8")
        assert next(events) == "change"
        page = client.get("/lists/weekly/live")
    assert "Desk Live Reload Brings a Fresh Post" in page.text
    titles = [p.title for p in site.pipeline.candidates("weekly")]
    assert "Desk Live Reload Brings a Fresh Post" in titles
