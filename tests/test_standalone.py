"""Summaries that stand alone: the detector of openers that point back, and the summarizer."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from digest.build import Builder
from digest.collect import make_sources
from digest.config import load_settings
from digest.summarize import ExtractiveSummarizer, split_sentences
from digest.summarize.standalone import dangling, opens_dangling, strip_connective
from tests.conftest import SAMPLE_PAGE


@pytest.mark.parametrize(
    ("sentence", "kind", "word"),
    [
        ("However, the bank raised rates again.", "connective", "However"),
        ("But the central questions remain unresolved.", "connective", "But"),
        ("And Alan Greenspan highlighted the deficit.", "connective", "And"),
        ("Meanwhile, events at sea keep outpacing diplomacy.", "connective", "Meanwhile"),
        ("Still, the talks go on.", "connective", "Still"),
        ("Otherwise the next default will repeat the delays.", "connective", "Otherwise"),
        ("In addition, the firm cut 200 jobs.", "connective", "In addition"),
        ("On the other hand, prices fell.", "connective", "On the other hand"),
        ("They were arrested on Tuesday.", "pronoun", "They"),
        ("Today they are hosting ceasefire talks.", "pronoun", "Today they"),
        ("In 2004, he won the cup.", "pronoun", "he"),
        ("It was forced to close two plants.", "pronoun", "It"),
        ("This is a problem for the bank.", "pronoun", "This"),
        ("These figures are worse than expected.", "pronoun", "These"),
        ("His comments came as shares fell.", "pronoun", "His"),
        ("Some have relocated to Tbilisi.", "pronoun", "Some have"),
        (
            "The deal trims $1.5 billion from the debt, she noted, but growth lags.",
            "reporting",
            "she noted",
        ),
        ('"We are pleased with the result," he said.', "reporting", "he said"),
        ("Profits rose 5% in the year, it said.", "reporting", "it said"),
    ],
)
def test_detector_flags_what_points_back(sentence: str, kind: str, word: str) -> None:
    found = dangling(sentence)
    assert found is not None, sentence
    assert (found.kind, found.word) == (kind, word)


@pytest.mark.parametrize(
    "sentence",
    [
        "The bank raised rates on Tuesday.",
        "Mr Brown said he would stand down.",
        "It is unclear whether the deal will hold.",
        "It's thought the firm will close.",
        "It has emerged that the minister knew.",
        "This week the bank cut rates.",
        "These days few people write letters.",
        "After the vote, the party split.",
        "Some analysts say the rise is over.",
        "Still more banks raised rates.",
        "“They will not win,” said Mr Okafor.",
        '"He said they would come, and they did," the minister told reporters.',
        "There were five reasons for the fall.",
        "Andrew Smith said growth was strong.",
    ],
)
def test_detector_leaves_standalone_sentences_alone(sentence: str) -> None:
    assert dangling(sentence) is None


@pytest.mark.parametrize(
    ("sentence", "stripped"),
    [
        ("However, the bank raised rates.", "The bank raised rates."),
        ("But the central questions remain open.", "The central questions remain open."),
        ("Also on the list was the minister.", "On the list was the minister."),
        ('And "green" tariffs are coming soon.', '"Green" tariffs are coming soon.'),
        ("In addition, 200 jobs will go.", "200 jobs will go."),
        ("Nor did the bank explain why.", "Nor did the bank explain why."),  # would invert
        ("Otherwise the talks fail.", "Otherwise the talks fail."),  # a condition, not a link
        ("Instead the bank cut rates.", "The bank cut rates."),
        ("Still more banks raised rates.", "Still more banks raised rates."),  # an adverb
        ("But why?", "But why?"),  # nothing left to stand
        ("The bank raised rates.", "The bank raised rates."),
    ],
)
def test_strip_connective_recapitalises_or_leaves_alone(sentence: str, stripped: str) -> None:
    assert strip_connective(sentence) == stripped


def test_opens_dangling_looks_at_the_first_sentence_only() -> None:
    assert opens_dangling("The bank raised rates. However, markets shrugged.") is None
    found = opens_dangling("However, markets shrugged. The bank raised rates.")
    assert found is not None and found.kind == "connective"
    assert opens_dangling("") is None


# Crafted so that the most central sentence leans on the one before it: without the rule the
# summary would open on it.
CONNECTIVE_TEXT = """The city council met on Monday evening in the old town hall.

However, the council voted to raise the tram fares and the bus fares by ten percent, and the \
tram fares and bus fares will rise in March. Residents complained about tram fares and bus fares.
"""
PRONOUN_TEXT = """Three miners were trapped underground after a tunnel collapsed in the valley.

They were rescued after the mine rescue teams spent two days drilling a rescue shaft into the \
mine. Mine rescue teams said the rescue shaft into the mine was the deepest they had drilled.
"""
REPORTING_TEXT = """Maria Lopez, the finance minister, spoke to reporters in the capital.

The new debt deal cuts the debt owed to foreign banks by a third, she noted, and debt payments \
fall. The debt deal and the debt payments to foreign banks were agreed by the banks this week.
"""


@pytest.mark.parametrize("text", [CONNECTIVE_TEXT, PRONOUN_TEXT, REPORTING_TEXT])
@pytest.mark.parametrize(("max_sentences", "max_words"), [(1, 60), (2, 60), (3, 40)])
def test_crafted_summaries_do_not_open_dangling(
    text: str, max_sentences: int, max_words: int
) -> None:
    summary = ExtractiveSummarizer(max_sentences, max_words).summarize(text)
    assert summary
    assert opens_dangling(summary) is None, summary
    assert len(split_sentences(summary)) <= max_sentences
    assert len(summary.split()) <= max_words


def test_a_lone_connective_is_dropped_and_the_sentence_kept() -> None:
    summary = ExtractiveSummarizer(1, 60).summarize(CONNECTIVE_TEXT)
    assert summary.startswith("The council voted to raise the tram fares"), summary


def test_a_leaning_sentence_may_follow_the_sentence_it_leans_on() -> None:
    summary = ExtractiveSummarizer(3, 60).summarize(PRONOUN_TEXT)
    sentences = split_sentences(summary)
    assert sentences[0].startswith("Three miners were trapped"), summary
    assert sentences[1].startswith("They were rescued"), summary


def test_text_made_only_of_leaning_sentences_still_gets_a_summary() -> None:
    text = "It was late in the evening. They left the hall early. He stayed on with the band."
    assert ExtractiveSummarizer(3, 60).summarize(text) == text
    summary = ExtractiveSummarizer(3, 60).summarize("But nobody noticed the band at all.")
    assert summary == "Nobody noticed the band at all."


def test_sample_posts_summaries_stand_alone(project: Path) -> None:
    settings = load_settings(project / "config.toml")
    summarizer = Builder(settings).summarizer
    posts = [post for source in make_sources(settings) for post in source.collect({}).posts]
    expected = len(list((project / "posts").iterdir())) + (1 if SAMPLE_PAGE.exists() else 0)
    assert len(posts) == expected >= 12
    for post in posts:
        summary = summarizer.summarize(post.text, post.title)
        assert summary, post.origin
        assert opens_dangling(summary) is None, (post.origin, summary)
        # A later sentence that leans on what went before follows the sentence it leans on.
        article = split_sentences(post.text)
        chosen = split_sentences(summary)
        for before, sentence in pairwise(chosen):
            if dangling(sentence) is not None:
                assert sentence in article, (post.origin, sentence)
                assert article[article.index(sentence) - 1] == before, (post.origin, summary)
