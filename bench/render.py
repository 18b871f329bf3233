"""Benchmark: render one 60-post issue for 20 and 200 audience segments.

Prints the time per segment, its ratio to bare ``mjml2html`` on the very same MJML (measured
in the same run), and the time for 200 segments. Targets: ratio <= 1.5x; 200 segments < 1 s.

    .venv/bin/python bench/render.py [config.toml]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

from mjml import mjml2html

from digest.config.load import load_settings
from digest.models import ALL, Audience, Digest, DigestPost, Section, Window
from digest.render.renderer import Renderer

AREAS = (
    "International Politics", "Foreign Affairs", "Economic Development", "Security",
    "Climate & Energy", "Human Rights", "Trade", "Technology",
)  # fmt: skip
SUMMARY = (
    "Negotiators returned to the table this week with a narrower agenda and lower hopes. The "
    "sticking points remain financing and verification, and both sides now expect a deal, if "
    "any, only after the next round of elections."
)
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
REPEAT = 10


def issue(posts: int = 60) -> Digest:
    """A week of ``posts`` posts spread over eight areas."""
    sections: dict[str, list[DigestPost]] = {a: [] for a in AREAS}
    for i in range(posts):
        area = AREAS[i % len(AREAS)]
        sections[area].append(
            DigestPost(
                id=i + 1,
                title=f"What the {area.lower()} debate misses about week {i}",
                url=f"https://blogs.example.org/2026/03/post-{i}/",
                author=f"Author {i % 13}",
                areas=(area, AREAS[(i + 3) % len(AREAS)]),
                summary=f"{SUMMARY} Post {i}, on {area.lower()}.",
                published=T0 - timedelta(hours=i),
            )
        )
    window = Window(T0 - timedelta(days=7), T0)
    return Digest("weekly", 1, window, tuple(Section(a, tuple(p)) for a, p in sections.items()), T0)


def audiences(count: int) -> list[Audience]:
    """``all`` and ``count - 1`` distinct area combinations, one to three areas each."""
    combos = [c for n in (1, 2, 3) for c in combinations(AREAS, n)]
    return [Audience(ALL, ()), *(Audience("+".join(c), c) for c in combos[: count - 1])]


def run(renderer: Renderer, digest: Digest, segments: list[Audience]) -> tuple[float, list[str]]:
    """Seconds to render ``segments`` (HTML and text) of a fresh issue, and their MJML."""
    start = time.perf_counter()
    issue_render = renderer.issue(digest)
    emails = issue_render.segments(segments)
    return time.perf_counter() - start, [e.email.mjml for e in emails]


def bare(mjmls: list[str]) -> float:
    start = time.perf_counter()
    for mjml in mjmls:
        mjml2html(mjml, disable_comments=True, fonts={})
    return time.perf_counter() - start


def main() -> None:
    config = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("config.toml")
    renderer = Renderer(load_settings(config))
    digest = issue(60)
    twenty = audiences(20)
    run(renderer, digest, twenty)  # warm up: load templates, compile Jinja
    best_render, best_bare = float("inf"), float("inf")
    for _ in range(REPEAT):
        seconds, mjmls = run(renderer, digest, twenty)
        best_render = min(best_render, seconds)
        best_bare = min(best_bare, bare(mjmls))
    emails = renderer.render_segments(digest, twenty)
    sizes = [e.html_bytes for e in emails]
    collapsed = sum(e.collapsed for e in emails)
    two_hundred = audiences(200)
    many, many_mjml = min(run(renderer, digest, two_hundred) for _ in range(3))
    many_bare = min(bare(many_mjml) for _ in range(3))
    ratio = best_render / best_bare
    print(f"issue: {len(digest.posts)} posts in {len(digest.sections)} sections")
    print(
        f"20 segments: {best_render * 1000:.1f} ms, {best_render / 20 * 1000:.2f} ms per segment "
        f"(HTML {min(sizes):,}-{max(sizes):,} bytes, {collapsed} posts collapsed)"
    )
    print(f"bare mjml2html on the same MJML: {best_bare / 20 * 1000:.2f} ms per segment")
    print(f"ratio to bare mjml2html, HTML and text part: {ratio:.2f}x (target <= 1.5x)")
    print(
        f"200 segments: {many * 1000:.0f} ms, {many / 200 * 1000:.2f} ms per segment "
        f"(target < 1000 ms); {many / many_bare:.2f}x bare mjml2html"
    )
    if ratio > 1.5 or many >= 1.0:
        print("TARGET MISSED")
        sys.exit(1)


if __name__ == "__main__":
    main()
