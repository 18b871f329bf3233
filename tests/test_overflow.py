"""Never clipped: big weeks collapse their lowest-ranked posts and stay under 100 KB."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.models import ALL, Audience
from digest.render.overflow import Collapser, ranked
from digest.render.renderer import Renderer
from digest.render.segments import view

from .email_helpers import AREAS, big_week, filled

LIMIT = 100_000


@pytest.fixture
def renderer(project: Path) -> Renderer:
    return Renderer(load_settings(project / "config.toml"))


def test_ranking_is_round_robin_with_pinned_first() -> None:
    digest = big_week(12, AREAS[:3])
    order = [p.id for p in ranked(digest.sections)]
    firsts = [s.posts[0].id for s in digest.sections]
    assert order[:3] == firsts and order[3:6] == [s.posts[1].id for s in digest.sections]


def test_collapse_levels_turn_full_posts_into_titles_then_into_one_link() -> None:
    digest = big_week(12, AREAS[:3])
    collapser = Collapser(view(digest, Audience(ALL, ())))
    assert collapser.max_level == 24
    none = collapser.layout(0)
    assert sum(len(s.posts) for s in none.sections) == 12 and none.lines == 0 and not none.more
    four = collapser.layout(4)
    assert sum(len(s.posts) for s in four.sections) == 8 and four.lines == 4
    lowest = {p.id for p in ranked(digest.sections)[-4:]}
    assert {p.id for s in four.sections for p in s.lines} == lowest
    folded = collapser.layout(12 + 5)
    assert folded.more == 5 and folded.lines == 7
    assert not any(s.posts for s in folded.sections)
    everything = collapser.layout(24)
    assert everything.more == 12 and everything.sections == ()


def test_200_post_week_stays_under_100kb_per_segment_and_links_the_rest(
    renderer: Renderer,
) -> None:
    digest = big_week(200)
    audiences = [
        Audience(ALL, ()),
        Audience("security", ("Security",)),
        Audience("two", ("Security", "Human Rights")),
        Audience("most", AREAS[:5]),
    ]
    for seg in renderer.render_segments(digest, audiences):
        html = seg.email.html
        assert seg.html_bytes < LIMIT and len(filled(html).encode()) < LIMIT, seg.key
        titles = set(re.findall(r"Post number (\d+) on", html))
        assert len(titles) + seg.linked == 200, seg.key  # every post shown or linked
        if seg.key == ALL:
            assert seg.collapsed > 0 and seg.lines == seg.collapsed
            full = set(re.findall(r"<h3[^>]*>.*?Post number (\d+) on", html))
            assert 0 < len(full) < 200
            for section in digest.sections:  # each section keeps its best posts in full
                best = {str(p.id - 1000) for p in section.posts[: len(full) // len(AREAS)]}
                assert best <= full
    text = renderer.render(digest).text
    assert "Post number 199 on" in text and "Links:" in text


def test_huge_week_folds_into_n_more_posts_link_to_web_version(renderer: Renderer) -> None:
    digest = big_week(900)
    (seg,) = renderer.render_segments(digest, [Audience(ALL, ())])
    html, text = seg.email.html, seg.email.text
    assert seg.html_bytes < LIMIT and seg.linked > 0
    assert seg.collapsed == seg.lines + seg.linked
    url = "https://digest.example.org/archive/weekly/9.html"
    assert f'<a href="{url}"' in html
    assert f"{seg.linked} more posts this week" in html
    assert f"{seg.linked} more posts this week, in the web version:\n{url}" in text
    shown = set(re.findall(r"Post number (\d+) on", html))
    assert len(shown) + seg.linked == 900
    assert seg.html_bytes > LIMIT * 0.8  # collapsing stops once it fits, not far below


def test_segment_folds_other_areas_before_its_own_posts(renderer: Renderer) -> None:
    digest = big_week(420)
    (seg,) = renderer.render_segments(digest, [Audience("s", ("Security",))])
    assert seg.html_bytes < LIMIT and seg.also == 350
    assert seg.linked > 0 and seg.lines == 0  # other areas folded; every Security post in full
    assert seg.email.html.count("<h3") == 70
    collapser = Collapser(view(digest, Audience("s", ("Security",))))
    last = collapser.layout(collapser.max_level - 1)
    assert last.more == 350 + 69 and last.lines == 1
