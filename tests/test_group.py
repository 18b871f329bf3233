from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.config import AreaSettings, TaxonomySettings
from digest.group import AuthorProfile, group, place
from digest.models import StoredPost
from digest.taxonomy import Taxonomy, area_key

T0 = datetime(2026, 11, 23, tzinfo=UTC)
TAX = Taxonomy(
    TaxonomySettings(
        areas=(
            AreaSettings("International Politics", ("IR", "International Relations")),
            AreaSettings("Climate & Energy", ("Climate", "climate change")),
            AreaSettings("Security"),
        ),
        order=("Security",),
        catch_all="Elsewhere",
    )
)


class FirstSentence:
    def summarize(self, text: str, title: str | None = None) -> str:
        return text.split(".")[0] + "."


def sp(
    pid: int, areas: tuple[str, ...] = (), author: str | None = None, **kw: object
) -> StoredPost:
    defaults: dict[str, object] = {
        "id": pid,
        "source": "s",
        "guid": str(pid),
        "title": f"Post {pid}",
        "text": f"Text of {pid}. More.",
        "url": None,
        "author": author,
        "areas": areas,
        "published": T0 + timedelta(hours=pid),
        "collected_at": T0,
    }
    defaults.update(kw)
    return StoredPost(**defaults)  # type: ignore[arg-type]


def test_area_key_and_aliases() -> None:
    assert area_key("  Climate & Energy ") == area_key("climate and energy") == "climate and energy"
    assert area_key("International  Politics!") == "international politics"
    assert TAX.canonical("ir") == "International Politics"
    assert TAX.canonical("International relations.") == "International Politics"
    assert TAX.canonical("CLIMATE CHANGE") == "Climate & Energy"
    assert TAX.canonical("Arctic  Affairs") == "Arctic Affairs"  # unknown areas are kept
    assert TAX.canonical(" ;; ") is None
    assert TAX.normalize(["IR", "International Politics", "Security"]) == (
        "International Politics",
        "Security",
    )


def test_area_from_post_then_author_then_catch_all() -> None:
    authors = {area_key("Maya Okafor"): AuthorProfile(("climate",))}
    assert place(sp(1, ("IR",)), TAX, authors)[:2] == (("International Politics",), "post")
    assert place(sp(2, (), "maya  okafor"), TAX, authors)[:2] == (("Climate & Energy",), "author")
    assert place(sp(3), TAX, authors)[:2] == ((), "post")
    edited = sp(4, ("IR",), area_override="security")
    assert place(edited, TAX, authors)[:2] == (("Security", "International Politics"), "editor")


def test_sections_order_and_membership() -> None:
    posts = [
        sp(1, ("IR", "Security")),
        sp(2, ("International Politics",)),
        sp(3, ("Security",)),
        sp(4, ()),
        sp(5, ("Arctic Affairs",)),
        sp(6, ("IR",), excluded=True),
        sp(7, ("IR",), pinned=True, published=T0 - timedelta(days=2)),
    ]
    sections = group(posts, FirstSentence(), TAX, {})
    assert [s.area for s in sections] == [
        "Security",  # configured order first
        "International Politics",  # then by size
        "Arctic Affairs",
        "Elsewhere",  # catch-all last
    ]
    ip = sections[1]
    assert [p.id for p in ip.posts] == [7, 2, 1]  # pinned first, then newest first
    assert ip.posts[2].areas == ("International Politics", "Security")
    assert all(p.id != 6 for s in sections for p in s.posts)
    assert ip.posts[1].summary == "Text of 2."


def test_summary_override_wins() -> None:
    sections = group([sp(1, ("IR",), summary_override="Editor's words.")], FirstSentence(), TAX, {})
    assert sections[0].posts[0].summary == "Editor's words."


def test_classifier_used_only_above_threshold() -> None:
    post = sp(1)
    confident = place(post, TAX, {}, classify=lambda p: ("climate", 0.9), threshold=0.6)
    assert confident == (("Climate & Energy",), "classifier", 0.9)
    unsure = place(post, TAX, {}, classify=lambda p: ("climate", 0.4), threshold=0.6)
    assert unsure[0] == () and unsure[1] == "classifier"


def test_builder_classifies_untagged_posts_from_the_store(project: Path) -> None:
    """A post with no area and no author profile gets the classifier's area, or catch-all."""
    from digest.build import Builder
    from digest.config.load import load_settings
    from digest.models import Post
    from digest.store import Store

    settings = load_settings(project / "config.toml")
    store = Store(settings.database.url)
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    climate = "solar wind emissions carbon grid renewable power climate warming energy"
    security = "troops military army defence missile border attack soldiers security war"
    tagged = [
        Post("s", f"c{i}", f"Energy {i}", f"{climate} {i}.", areas=("Climate",)) for i in range(8)
    ] + [Post("s", f"s{i}", f"Army {i}", f"{security} {i}.", areas=("Security",)) for i in range(8)]
    untagged = Post(
        "s", "u", "Grid news", "New solar and wind power reaches the grid; carbon falls."
    )
    store.posts.upsert([*tagged, untagged], now)
    built = Builder(settings).build(store, "weekly", now)
    placed = {p.title: (s.area, p.area_source) for s in built.digest.sections for p in s.posts}
    assert placed["Grid news"] == ("Climate & Energy", "classifier")
    confidence = next(p.confidence for p in built.digest.posts if p.title == "Grid news")
    assert 0.5 <= confidence <= 1.0
    strict = load_settings(project / "config.toml")
    from dataclasses import replace

    strict = replace(strict, taxonomy=replace(strict.taxonomy, classifier_threshold=0.999))
    built = Builder(strict).build(store, "weekly", now)
    placed = {p.title: (s.area, p.area_source) for s in built.digest.sections for p in s.posts}
    assert placed["Grid news"] == ("More from the network", "classifier")
