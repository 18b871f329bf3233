"""Tests of the area classifier on a small synthetic corpus."""

from __future__ import annotations

import random

import pytest

from digest.classify import AreaClassifier

VOCAB = {
    "economy": "inflation rates bank budget tax growth market prices deficit treasury jobs",
    "health": "hospital doctors patients nurses vaccine disease clinic surgery waiting care",
    "defence": "army troops navy missile nato soldiers weapons border alliance military",
}
FILLER = ("the a said on in of and this week officials minister report new plan",)


def make_corpus(per_area: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """Short fake articles: mostly filler words plus a few words of the area's vocabulary."""
    rng = random.Random(seed)
    texts, labels = [], []
    for area, vocab in VOCAB.items():
        words = vocab.split()
        for _ in range(per_area):
            body = rng.choices(FILLER[0].split(" "), k=20) + rng.choices(words, k=6)
            rng.shuffle(body)
            texts.append(" ".join(body) + ".")
            labels.append(area)
    return texts, labels


@pytest.fixture(scope="module")
def classifier() -> AreaClassifier:
    texts, labels = make_corpus(per_area=10)
    return AreaClassifier().fit(texts, labels)


def test_predicts_the_right_area_on_held_out_texts(classifier: AreaClassifier) -> None:
    texts, labels = make_corpus(per_area=15, seed=99)
    predicted = [label for label, _ in classifier.predict_many(texts)]
    correct = sum(p == t for p, t in zip(predicted, labels, strict=True))
    assert correct / len(labels) >= 0.9
    assert set(classifier.labels) == set(VOCAB)


def test_confidence_is_a_probability_and_thresholdable(classifier: AreaClassifier) -> None:
    label, sure = classifier.predict("NATO troops and army missile units moved to the border.")
    assert label == "defence"
    unsure_label, unsure = classifier.predict("The cat sat on the mat.")
    assert unsure_label in VOCAB
    assert 0.0 <= unsure < sure <= 1.0
    assert unsure < 0.6 < sure  # a caller can route the vague text to a fallback area


def test_predict_many_matches_predict_and_keeps_order(classifier: AreaClassifier) -> None:
    texts = ["Hospital waiting lists and nurses.", "Tax and budget deficit.", ""]
    many = classifier.predict_many(texts)
    assert many == [classifier.predict(t) for t in texts]
    assert [label for label, _ in many[:2]] == ["health", "economy"]
    assert classifier.predict_many([]) == []


def test_deterministic() -> None:
    texts, labels = make_corpus(per_area=10)
    probe = make_corpus(per_area=3, seed=5)[0]
    first = AreaClassifier().fit(texts, labels).predict_many(probe)
    second = AreaClassifier().fit(texts, labels).predict_many(probe)
    assert first == second


def test_fewer_than_two_areas_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least 2 areas"):
        AreaClassifier().fit(["a text about tax", "another about rates"], ["economy", "economy"])
    with pytest.raises(ValueError, match="at least 2 areas"):
        AreaClassifier().fit([], [])


def test_mismatched_lengths_and_unfitted_use_are_errors() -> None:
    with pytest.raises(ValueError, match="labels"):
        AreaClassifier().fit(["one", "two"], ["economy"])
    with pytest.raises(RuntimeError, match="before fit"):
        AreaClassifier().predict("anything")
