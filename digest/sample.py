"""The sample issue: a fixed set of posts used by the golden files, checks and screenshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .models import Digest, DigestPost, Image, Section, Window

END = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
BASE = "https://blogs.example.org/2026/02"
LEAD_IMAGE = Image(
    f"{BASE}/arctic-shipping-lanes/cargo-ship-ice.jpg",
    1200,
    675,
    "A cargo ship breaking through thin sea ice under a low sun",
)
"""The lead's picture (the feed's media:content)."""
NO_LINK = frozenset({"central-asia-press-freedom"})
"""Posts that came without a URL (a .txt post file): they link to the web version instead."""

_POSTS = (
    ("International Politics", "Arctic Shipping Lanes Are Opening Faster Than the Rules That "
     "Govern Them", "Solveig Brandt", ("Security", "Climate & Energy"), "arctic-shipping-lanes",
     "The physical opening of the Arctic is running well ahead of the political arrangements "
     "meant to manage it. Coastal states, shipping firms and navies are each writing their own "
     "rules, and the gaps between them are widening every summer."),
    ("International Politics", "The Gulf States Discover the Power of Mediation", "Omar Haddad",
     ("Foreign Affairs",), "gulf-mediation-diplomacy",
     "Qatar, Oman and Saudi Arabia have turned hosting talks into a foreign-policy asset. Their "
     "success rests on access to every side, a resource that is easy to spend and hard to "
     "rebuild."),
    ("Foreign Affairs", "Europe's Asylum Pact Puts Solidarity on Trial", "Lena Hoffmann",
     ("Human Rights",), "refugee-rights-europe",
     "The new asylum rules were sold as a fair sharing of responsibility. As the first border "
     "procedures take effect, they look more like a system for keeping people waiting at the "
     "edges of the continent."),
    ("Economic Development", "Zambia's Debt Deal Is a Template Nobody Wants to Copy",
     "Chipo Banda", (), "zambia-debt-relief",
     "Zambia finally restructured its debts after three years of talks. The delay cost the "
     "country investment and growth, and creditors have yet to agree on how to move faster "
     "next time."),
    ("Security", "After the Drawdown: Who Fills the Sahel's Security Vacuum?", "Idris Mensah",
     ("Human Rights",), "sahel-security-vacuum",
     "Three years after Western troops began leaving, the military governments of Mali, Burkina "
     "Faso and Niger have yet to show they can protect civilians. Jihadist violence keeps "
     "spreading south and west."),
    ("Security", "Sanctions Enforcement Is Now a Logistics Problem", "Marcus Whitfield",
     ("Foreign Affairs",), "sanctions-enforcement",
     "The hard part of sanctions is no longer writing them but following goods through third "
     "countries. Customs data, not diplomacy, now decides whether a listing bites."),
    ("Climate & Energy", "Europe's Carbon Border Tax Meets Its First Real Test", "Maya Okafor",
     (), "eu-carbon-border-tax",
     "Importers of steel, cement and fertilizer must now account for the emissions in their "
     "goods. Exporters from Türkiye to India are scrambling to prove their numbers."),
    ("Climate & Energy", "India's Solar Buildout Is Outrunning Its Grid", "Arjun Mehta-Rao",
     ("Economic Development",), "india-solar-buildout",
     "India is adding solar capacity faster than the wires to carry it. In the sunniest states, "
     "new projects sit idle at midday because transmission lines are full."),
    ("Human Rights", "Central Asia's Newsrooms Are Running Out of Room", None, (),
     "central-asia-press-freedom",
     "New media laws across the region let officials close outlets for vaguely defined "
     "offences. Reporters are moving abroad, and local audiences are losing the last "
     "independent sources they had."),
)  # fmt: skip


def sample_digest(list_name: str = "weekly", number: int = 12) -> Digest:
    """The sample issue: nine posts in six sections, with fixed ids, dates and summaries.

    The lead has a picture; one post has no URL, as posts from plain-text files have none.
    """
    sections: dict[str, list[DigestPost]] = {}
    for i, (area, title, author, more, slug, summary) in enumerate(_POSTS):
        post = DigestPost(
            id=101 + i,
            title=title,
            url=None if slug in NO_LINK else f"{BASE}/{slug}/",
            author=author,
            areas=(area, *more),
            summary=summary,
            published=END - timedelta(hours=6 * (i + 1)),
            image=LEAD_IMAGE if i == 0 else None,
        )
        sections.setdefault(area, []).append(post)
    window = Window(END - timedelta(days=7), END)
    return Digest(
        list_name,
        number,
        window,
        tuple(Section(area, tuple(posts)) for area, posts in sections.items()),
        built_at=END,
    )
