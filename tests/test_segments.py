"""Segments: keys from preferences, what each segment reads, one render per segment."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from digest.build import Builder
from digest.config.load import load_settings
from digest.models import ALL, Audience, Subscriber
from digest.render.renderer import Renderer
from digest.render.sample import sample_digest
from digest.render.segments import view
from digest.subscribers.audiences import audiences

from .cli_helpers import run_digest
from .email_helpers import filled


@pytest.fixture
def builder(project: Path) -> Builder:
    return Builder(load_settings(project / "config.toml"))


def test_segment_key_is_canonical_and_order_free(builder: Builder) -> None:
    assert builder.segment_key([]) == ALL
    assert builder.segment_key(["Security", "IR"]) == "international-politics+security"
    assert builder.segment_key(["defence", "international relations", "Security"]) == (
        "international-politics+security"
    )
    assert builder.segment_key(["Climate"]) == "climate-and-energy"
    assert builder.segment_key(["Underwater Basket Weaving"]) == "underwater-basket-weaving"


def test_audiences_count_distinct_preferences(builder: Builder) -> None:
    subs = [
        Subscriber("a@x.org"),
        Subscriber("b@x.org", areas=("Security", "IR")),
        Subscriber("c@x.org", areas=("International Relations", "Defense")),
        Subscriber("d@x.org", areas=("Climate",)),
    ]
    found = audiences(subs, builder.taxonomy)
    assert [(a.key, a.subscribers) for a in found] == [
        (ALL, 1),
        ("climate-and-energy", 1),
        ("international-politics+security", 2),
    ]
    assert found[2].areas == ("International Politics", "Security")
    assert audiences([], builder.taxonomy) == (Audience(ALL, (), 0),)


def test_segment_gets_its_sections_then_also_this_week(builder: Builder) -> None:
    digest = sample_digest()
    areas = ("Security", "Human Rights")
    seg = view(digest, Audience("x", areas))
    assert [s.area for s in seg.sections] == ["Security", "Human Rights"]
    mine = {p.id for s in seg.sections for p in s.posts}
    assert {p.id for p in seg.also} == {p.id for p in digest.posts} - mine
    (email,) = builder.renderer.render_segments(digest, [Audience("x", areas, 4)])
    html, text = email.email.html, email.email.text
    assert email.subscribers == 4 and email.posts == 3 and email.also == 6
    assert "Also this week" in html and "Also this week\n==============" in text
    assert html.index(">Security<") < html.index(">Human Rights<") < html.index("Also this week")
    assert ">Foreign Affairs<" not in html  # not a section for this reader ...
    assert "Europe&#39;s Asylum Pact Puts Solidarity on Trial</a></li>" in html  # ... a title
    assert "Your areas: Security, Human Rights" in html and "Your areas:" in text
    assert "The new asylum rules" not in html  # other areas' summaries stay out
    tokens = email.email.placeholders  # per-recipient stays placeholder
    assert tokens.unsubscribe_url in html and tokens.email in text


def test_everything_segment_equals_render(builder: Builder) -> None:
    digest = sample_digest()
    whole = builder.renderer.render(digest)
    (seg,) = builder.renderer.render_segments(digest, [Audience(ALL, ())])
    same_key = replace(whole, placeholders=seg.email.placeholders)  # each render has its own key
    rekeyed = {
        k: getattr(whole, k).replace(whole.placeholders.key, seg.email.placeholders.key)
        for k in ("html", "text", "mjml")
    }
    assert seg.email == replace(same_key, **rekeyed) and "Also this week" not in whole.html
    assert seg.collapsed == 0 and seg.also == 0 and seg.posts == len(digest.posts)


def test_render_once_per_segment_shares_partials(project: Path) -> None:
    renderer = Renderer(load_settings(project / "config.toml"))
    issue = renderer.issue(sample_digest())
    first = issue.segment(Audience("a", ("Security",)))
    renders = issue.rendered
    assert renders > 0
    again = issue.segment(Audience("b", ("Security",)))
    assert issue.rendered == renders  # nothing new to render for the same content
    assert again.email == first.email


def test_build_json_lists_segments_with_counts_and_sizes(project: Path) -> None:
    assert run_digest(project, "collect").returncode == 0
    result = run_digest(project, "build", "--list", "weekly", "--json", "--out", str(project / "b"))
    assert result.returncode == 0, result.stderr
    issue = json.loads(result.stdout)
    assert set(issue) >= {"list", "issue", "window", "subject", "sections", "html_bytes"}
    segments = {s["key"]: s for s in issue["segments"]}
    assert issue["segments"][0]["key"] == ALL
    counts = {k: s["subscribers"] for k, s in segments.items()}
    assert counts == {  # from subscribers/weekly.csv: the unsubscribed row is not counted
        ALL: 3,
        "climate-and-energy": 1,
        "foreign-affairs+human-rights": 1,
        "international-politics+security": 1,
    }
    assert segments["climate-and-energy"]["areas"] == ["Climate & Energy"]
    for seg in segments.values():
        assert 0 < seg["html_bytes"] < 100_000 and seg["collapsed"] == 0
        html = project / "b" / "segments" / seg["key"] / "email.html"
        assert html.stat().st_size == seg["html_bytes"]
    assert segments[ALL]["html_bytes"] == issue["html_bytes"]
    assert issue["collapsed"] == 0
    text = run_digest(project, "build", "--list", "weekly")
    assert "segment climate-and-energy: 1 subscriber(s)" in text.stdout


def test_filled_email_stays_under_limit(builder: Builder) -> None:
    email = builder.renderer.render(sample_digest())
    assert len(filled(email.html).encode()) < 100_000
