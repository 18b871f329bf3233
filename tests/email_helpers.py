"""Helpers for the email tests: a big week of posts, and filling placeholders like a backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from digest.models import Digest, DigestPost, Section, Window
from digest.render import PLACEHOLDERS, fill

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AREAS = (
    "International Politics", "Foreign Affairs", "Economic Development", "Security",
    "Climate & Energy", "Human Rights",
)  # fmt: skip
SUMMARY = (
    "Officials met again this week to discuss the framework, and the talks ended without an "
    "agreement on the hardest questions. Observers expect a second round before the summer, "
    "when the budget cycle and the elections will narrow the room for compromise further."
)


def big_week(count: int = 200, areas: tuple[str, ...] = AREAS) -> Digest:
    """``count`` realistic posts spread over ``areas``, newest first in each section."""
    sections: dict[str, list[DigestPost]] = {a: [] for a in areas}
    for i in range(count):
        area = areas[i % len(areas)]
        sections[area].append(
            DigestPost(
                id=1000 + i,
                title=f"Post number {i} on the state of {area.lower()} this week",
                url=f"https://blogs.example.org/2026/03/post-{i}/",
                author=f"Author {i % 17}",
                areas=(area, areas[(i + 1) % len(areas)]),
                summary=SUMMARY,
                published=T0 - timedelta(minutes=i),
            )
        )
    window = Window(T0 - timedelta(days=7), T0)
    return Digest("weekly", 9, window, tuple(Section(a, tuple(p)) for a, p in sections.items()), T0)


RECIPIENT = {
    PLACEHOLDERS.email_html: "a.very.long.name.of.a.subscriber@subdomain.example.org",
    PLACEHOLDERS.email: "a.very.long.name.of.a.subscriber@subdomain.example.org",
    PLACEHOLDERS.name_html: "Alexandra Example-Subscriber",
    PLACEHOLDERS.name: "Alexandra Example-Subscriber",
    PLACEHOLDERS.unsubscribe_url: "https://digest.example.org/unsubscribe/" + "t" * 120,
    PLACEHOLDERS.preferences_url: "https://digest.example.org/preferences/" + "t" * 120,
}


def filled(html: str) -> str:
    """``html`` as one recipient gets it, with long realistic per-recipient values."""
    return fill(html, RECIPIENT)
