"""Helpers for the email tests: a big week of posts, and filling placeholders like a backend."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

from digest.models import Digest, DigestPost, Section, Window
from digest.placeholders import FIELDS

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
    "email": "a.very.long.name.of.a.subscriber@subdomain.example.org",
    "name": "Alexandra Example-Subscriber",
    "unsubscribe_url": "https://digest.example.org/unsubscribe/" + "t" * 120,
    "preferences_url": "https://digest.example.org/preferences/" + "t" * 120,
}
FIELD = "|".join(FIELDS)
TOKEN = re.compile(rf"-({FIELD})(?:\.[0-9a-f]+)?(?:\.(?:html|text|header))?-")
"""Any placeholder a rendering may hold, keyed or not, in any part's spelling."""


def filled(html: str) -> str:
    """``html`` as one recipient gets it, with long realistic per-recipient values."""
    return TOKEN.sub(lambda m: RECIPIENT[FIELDS[m.group(1)]], html)


def html_part(raw: bytes) -> str:
    """The HTML part of a delivered message's raw bytes, decoded as the reader's client does."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    part = message.get_body(("html",))
    assert part is not None
    text: str = part.get_content()
    return text
