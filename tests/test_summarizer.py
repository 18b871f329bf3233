"""Tests of the embedded extractive summarizer: budget, order, boilerplate, determinism."""

from __future__ import annotations

import pytest

from digest.summarize import ExtractiveSummarizer, Summarizer, split_sentences

ARTICLE = """WASHINGTON (Reuters) - The central bank raised interest rates on Tuesday to curb \
inflation.

Photo from John Smith/Reuters.

The bank said inflation had risen faster than expected, and that higher interest rates would \
slow price rises. Economists had expected the bank to raise rates this month. The decision was \
unanimous, the bank said.

By Jane Doe

Markets fell after the rates decision, as investors worried that higher rates would hurt growth. \
The weather in the capital was sunny. Read more

The post Bank raises rates appeared first on Policy Blog.
"""


def words(text: str) -> int:
    return len(text.split())


def test_satisfies_the_protocol() -> None:
    summarizer: Summarizer = ExtractiveSummarizer()
    assert isinstance(summarizer, Summarizer)


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "Read more\nPhoto: Jane Doe"])
def test_empty_or_boilerplate_only_text_gives_empty_summary(text: str) -> None:
    assert ExtractiveSummarizer().summarize(text) == ""


def test_budget_is_respected_and_sentences_are_whole() -> None:
    sentences = set(split_sentences(ARTICLE))
    sentences |= {s.split(" - ", 1)[-1] for s in sentences}
    for max_sentences, max_words in [(1, 60), (2, 40), (3, 60), (3, 25), (5, 200)]:
        summary = ExtractiveSummarizer(max_sentences, max_words).summarize(ARTICLE, "Rates")
        chosen = split_sentences(summary)
        assert 1 <= len(chosen) <= max_sentences
        assert words(summary) <= max_words
        assert all(s in sentences for s in chosen), chosen
        assert "…" not in summary


def test_output_is_in_document_order_joined_by_single_spaces() -> None:
    summary = ExtractiveSummarizer(3, 200).summarize(ARTICLE)
    chosen = split_sentences(summary)
    positions = [ARTICLE.find(s) for s in chosen]
    assert positions == sorted(positions) and -1 not in positions
    assert summary == " ".join(chosen)
    assert "  " not in summary and "\n" not in summary


def test_boilerplate_and_dateline_are_never_included() -> None:
    summary = ExtractiveSummarizer(10, 1000).summarize(ARTICLE)
    for junk in ("Photo", "Reuters", "By Jane Doe", "Read more", "appeared first", "WASHINGTON"):
        assert junk not in summary
    assert summary.startswith("The central bank raised interest rates")


def test_central_sentences_beat_off_topic_ones() -> None:
    summary = ExtractiveSummarizer(2, 60).summarize(ARTICLE, "Central bank raises interest rates")
    assert "weather" not in summary
    assert "interest rates" in summary


def test_over_long_lead_sentence_is_cut_at_a_word_boundary_with_ellipsis() -> None:
    long = " ".join(f"word{i}," for i in range(80)) + " end."
    summary = ExtractiveSummarizer(3, 20).summarize(long + "\n\n" + long)
    assert summary.endswith("…")
    assert words(summary) == 20
    assert summary == " ".join(f"word{i}," for i in range(20))[:-1] + "…"


def test_no_cut_when_a_shorter_sentence_fits() -> None:
    text = " ".join(["rates"] * 70) + ". Rates rose again in March, the bank said."
    summary = ExtractiveSummarizer(3, 20).summarize(text)
    assert summary == "Rates rose again in March, the bank said."


def test_deterministic_across_instances_and_calls() -> None:
    first = ExtractiveSummarizer().summarize(ARTICLE, "Rates")
    assert all(ExtractiveSummarizer().summarize(ARTICLE, "Rates") == first for _ in range(5))


def test_title_is_optional_and_single_sentence_text_is_returned_whole() -> None:
    assert ExtractiveSummarizer().summarize("Just one short sentence here.") == (
        "Just one short sentence here."
    )


@pytest.mark.parametrize(("max_sentences", "max_words"), [(0, 60), (3, 0), (-1, -1)])
def test_invalid_budget_is_rejected(max_sentences: int, max_words: int) -> None:
    with pytest.raises(ValueError):
        ExtractiveSummarizer(max_sentences, max_words)


def test_large_sentence_budget_uses_every_fitting_sentence() -> None:
    text = " ".join(f"Sentence number {i} talks about rates and prices." for i in range(12))
    summary = ExtractiveSummarizer(max_sentences=20, max_words=1000).summarize(text)
    assert summary == text


def test_stopword_only_sentences_are_still_summarized() -> None:
    # No sentence here leans on unseen text ("It is …" would: see tests/test_standalone.py).
    text = "What is done is done. So it was, for all of them."
    assert ExtractiveSummarizer().summarize(text) == text
