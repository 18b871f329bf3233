"""The lead story: set apart, with its picture sized so that blocking images changes nothing."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from digest.config import load_settings
from digest.models import Digest, Image, Section
from digest.render import Renderer
from digest.sample import END as T0
from digest.sample import LEAD_IMAGE, sample_digest
from digest.segments import ALL, Audience

from .email_helpers import filled

SETTINGS = load_settings(Path(__file__).resolve().parent.parent / "config.toml")
BOX_JS = """() => {
  const lead = document.querySelector('.lead'), img = lead.querySelector('img');
  const h3 = lead.querySelector('h3').getBoundingClientRect(), r = img.getBoundingClientRect();
  const column = img.closest('td').getBoundingClientRect();
  return {img: [r.left, r.top, r.width, r.height], title: [h3.left, h3.top],
          column: column.width, page: document.documentElement.scrollHeight,
          loaded: img.complete && img.naturalWidth > 0};
}"""


def png(width: int, height: int) -> bytes:
    """A solid PNG of this size, written by hand (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x33\x66\x99" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def email() -> str:
    return filled(Renderer(SETTINGS).render(sample_digest()).html)


@pytest.fixture
def open_page(chromium: Any) -> Iterator[Any]:
    contexts: list[Any] = []
    picture = png(LEAD_IMAGE.width or 0, LEAD_IMAGE.height or 0)

    def open_(html: str, width: int, images: bool) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()

        def route(request: Any) -> None:
            if images and request.request.url == LEAD_IMAGE.url:
                request.fulfill(status=200, content_type="image/png", body=picture)
            else:
                request.abort()

        page.route("**/*", route)
        page.set_content(html, wait_until="load")
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 375, 600, 800])
def test_lead_picture_fits_the_column_and_blocking_it_moves_nothing(
    email: str, open_page: Any, width: int
) -> None:
    shown = open_page(email, width, images=True).evaluate(BOX_JS)
    blocked = open_page(email, width, images=False).evaluate(BOX_JS)
    assert shown["loaded"] and not blocked["loaded"]
    assert shown["img"][2] <= shown["column"]  # never wider than the column
    ratio = LEAD_IMAGE.height / LEAD_IMAGE.width  # type: ignore[operator]
    assert shown["img"][3] == pytest.approx(shown["img"][2] * ratio, abs=1.5)
    assert blocked == {**shown, "loaded": False}  # same box, same title position, same page


def test_lead_is_labelled_and_its_picture_is_https_sized_and_described() -> None:
    html = Renderer(SETTINGS).render(sample_digest()).html
    lead = html[html.index('dm-lead"') : html.index("</div>", html.index('dm-lead"'))]
    assert "Lead story" in lead  # named in words, not only by the rule's colour
    assert f'src="{LEAD_IMAGE.url}"' in lead
    assert 'width="536" height="302"' in lead and f'alt="{LEAD_IMAGE.alt}"' in lead
    assert html.count('dm-lead"') == 1


def test_a_pinned_post_leads_and_hostile_pictures_never_reach_the_email() -> None:
    digest = sample_digest()
    hostile = Image('https://cdn.example.org/a.jpg?"><script>x()</script>', 10, 10, '"><b>x')
    sections = []
    for section in digest.sections:
        posts = tuple(
            replace(p, pinned=True, image=hostile) if p.id == 107 else replace(p, image=None)
            for p in section.posts
        )
        sections.append(Section(section.area, posts))
    pinned = replace(digest, sections=tuple(sections))
    email = Renderer(SETTINGS).render(pinned)
    lead_title = next(p.title for p in pinned.posts if p.id == 107)
    assert email.subject.endswith(lead_title)
    lead = email.html[email.html.index('dm-lead"') :]
    assert lead_title.replace("'", "&#39;") in lead[:2000]
    assert "<script>" not in email.html and "<b>x" not in email.html
    assert "&#34;&gt;&lt;script&gt;" in email.html  # kept, escaped, inside the attribute
    private = replace(hostile, url="https://10.0.0.7/a.jpg")
    post = replace(pinned.sections[4].posts[0], image=private)
    assert post.id == 107
    alone = Digest("weekly", 1, digest.window, (Section("Climate & Energy", (post,)),), T0)
    assert "10.0.0.7" not in Renderer(SETTINGS).render(alone).html  # refused at render too


def test_each_segment_leads_with_its_own_first_post() -> None:
    digest = sample_digest()
    everyone, climate = Renderer(SETTINGS).render_segments(
        digest, [Audience(ALL, ()), Audience("c", ("Climate & Energy",))]
    )
    first_climate = next(s for s in digest.sections if s.area == "Climate & Energy").posts[0]
    assert everyone.email.subject.endswith(digest.sections[0].posts[0].title)
    assert climate.email.subject.endswith(first_climate.title)
    assert first_climate.title in climate.email.preheader
    assert climate.email.html.count('dm-lead"') == 1


def test_bylines_label_other_areas_and_show_the_date() -> None:
    email = Renderer(SETTINGS).render(sample_digest())
    byline = "By Solveig Brandt &middot; March 2 &middot; Also in: Security, Climate &amp; Energy"
    assert byline in email.html
    assert "By Solveig Brandt - March 2 - Also in: Security, Climate & Energy" in email.text
    assert "Solveig Brandt &middot; Security" not in email.html
