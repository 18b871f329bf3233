"""Tests of the hand-written sentence splitter and the boilerplate filter."""

from __future__ import annotations

import pytest

from digest.summarize import is_boilerplate, split_sentences, strip_dateline


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. economy grew. Mr. Smith agreed. Dr. Jones and Mrs. Brown did not.",
            ["The U.S. economy grew.", "Mr. Smith agreed.", "Dr. Jones and Mrs. Brown did not."],
        ),
        (
            "Prices in the U.K. rose. Officials in the U.S. The dollar fell.",
            ["Prices in the U.K. rose.", "Officials in the U.S.", "The dollar fell."],
        ),
        (
            "He lives on Baker St. near the park. It opened on Jan. 5 and Feb. 12 this year.",
            ["He lives on Baker St. near the park.", "It opened on Jan. 5 and Feb. 12 this year."],
        ),
        (
            "He works at No. 10 Downing Street. Fruit, e.g. apples, i.e. Coxes, etc. are cheap.",
            [
                "He works at No. 10 Downing Street.",
                "Fruit, e.g. apples, i.e. Coxes, etc. are cheap.",
            ],
        ),
        (
            "It was Smith vs. Jones on Sunday. Jones won.",
            ["It was Smith vs. Jones on Sunday.", "Jones won."],
        ),
        (
            "J. R. R. Tolkien wrote it. George W. Bush read it.",
            ["J. R. R. Tolkien wrote it.", "George W. Bush read it."],
        ),
        (
            "The dollar reached $1.2871 against the euro. Growth was 3.5% and the deal £1.5bn.",
            [
                "The dollar reached $1.2871 against the euro.",
                "Growth was 3.5% and the deal £1.5bn.",
            ],
        ),
        (
            "He paused... and then left. It was over... The next day was calm.",
            ["He paused... and then left.", "It was over...", "The next day was calm."],
        ),
        (
            "Well… maybe not. It ended… Then it began.",
            ["Well… maybe not.", "It ended…", "Then it began."],
        ),
        (
            '"It is good." Then he left. "Why?" he asked. "Is it?” She nodded.',
            ['"It is good."', "Then he left.", '"Why?" he asked.', '"Is it?”', "She nodded."],
        ),
        ("Is it over? Yes! It is.", ["Is it over?", "Yes!", "It is."]),
        ("eBay shares rose. iPod sales fell.", ["eBay shares rose.", "iPod sales fell."]),
    ],
)
def test_hard_cases(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_newlines_and_blank_lines_are_hard_boundaries() -> None:
    text = "A heading without a stop\nFirst paragraph. It has two sentences\n\n\nSecond one."
    assert split_sentences(text) == [
        "A heading without a stop",
        "First paragraph.",
        "It has two sentences",
        "Second one.",
    ]


def test_list_items_are_separate_and_lose_their_marker() -> None:
    text = "Key points:\n- rates rose\n* inflation fell\n• jobs grew\n1. first step\n2) second step"
    assert split_sentences(text) == [
        "Key points:",
        "rates rose",
        "inflation fell",
        "jobs grew",
        "first step",
        "second step",
    ]


def test_a_line_starting_with_an_initial_is_not_a_list() -> None:
    assert split_sentences("J. Smith spoke.\n3.5% was the rate.") == [
        "J. Smith spoke.",
        "3.5% was the rate.",
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\n", "...", "- \n* \n---", "“ ”"])
def test_no_empty_sentences(text: str) -> None:
    assert split_sentences(text) == []


def test_whitespace_is_normalised_and_nothing_is_empty() -> None:
    sentences = split_sentences("  One\u00a0 two.   Three .  \r\n\r\n Four.  ")
    assert sentences == ["One two.", "Three .", "Four."]
    assert all(s.strip() == s and s for s in sentences)


@pytest.mark.parametrize(
    "sentence",
    [
        "Photo from John Smith/Reuters.",
        "Photo: Jane Doe",
        "Image credit: NASA",
        "Protesters outside parliament (AP Photo/Evan Vucci)",
        "A man walks past the building. Getty Images",
        "By Jane Doe",
        "By Jane Doe, BBC News",
        "Posted by admin on March 3, 2024",
        "WASHINGTON (Reuters) -",
        "Read more",
        "Read more: Why rates rose",
        "Continue reading",
        "Share this:",
        "Subscribe to our newsletter",
        "For more details, click here.",
        "The post Budget 2024 explained appeared first on Policy Blog.",
        "Prime Minister Tony Blair At The Summit",
        "Advertisement",
        "(Reporting by David Lawder; Editing by Chris Reese)",
    ],
)
def test_boilerplate_is_flagged(sentence: str) -> None:
    assert is_boilerplate(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "By the end of the year, output had risen 5%.",
        "By Friday, the deal was done.",
        "Getty Images reported higher profits this year.",
        "Photographers gathered outside the court.",
        "Subscribers to the service rose by 2m.",
        "Read the report, officials said, before voting.",
        "The US economy grew 3.5% in 2004.",
        "UK - the biggest market - grew.",
        "Share prices fell on Monday.",
        "Images of the flood were shown on TV.",
        "The post office closed early.",
        "WASHINGTON (Reuters) - The Federal Reserve raised rates on Tuesday.",
    ],
)
def test_news_sentences_are_not_flagged(sentence: str) -> None:
    assert not is_boilerplate(sentence)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("WASHINGTON (Reuters) - The Fed raised rates.", "The Fed raised rates."),
        ("LONDON, March 3 (Reuters) - Shares fell.", "Shares fell."),
        ("NEW YORK (AP) — Stocks rose.", "Stocks rose."),
        ("UK - the biggest market - grew.", "UK - the biggest market - grew."),
        ("EADS - Airbus' owner - said costs rose.", "EADS - Airbus' owner - said costs rose."),
    ],
)
def test_strip_dateline(sentence: str, expected: str) -> None:
    assert strip_dateline(sentence) == expected
