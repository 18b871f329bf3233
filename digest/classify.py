"""Assign a policy area (a label such as "economy" or "health") to an article's text.

A TF-IDF bag of words and word bigrams feeds a multinomial logistic regression. It was chosen
over naive Bayes and linear SVMs because its predict_proba is a usable confidence out of the
box (no calibration split, which a ten-examples-per-area training set cannot spare), so
callers can threshold it and route low-confidence articles to a default area or a human.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

__all__ = ["AreaClassifier"]

RANDOM_STATE = 0


class AreaClassifier:
    """Text classifier returning a label and a confidence in [0, 1]; deterministic."""

    def __init__(self, c: float = 20.0, max_features: int = 100_000) -> None:
        self.c = c
        self.max_features = max_features
        self._vectorizer: TfidfVectorizer | None = None
        self._model: LogisticRegression | None = None
        self.labels: list[str] = []

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> AreaClassifier:
        """Train on texts with one label each; needs at least two distinct labels."""
        if len(texts) != len(labels):
            raise ValueError(f"got {len(texts)} texts but {len(labels)} labels")
        distinct = sorted(set(labels))
        if len(distinct) < 2:
            raise ValueError(
                f"need examples of at least 2 areas to train a classifier, got {distinct!r}"
            )
        vectorizer = TfidfVectorizer(
            lowercase=True,
            strip_accents="unicode",
            ngram_range=(1, 2),
            min_df=1,
            max_df=0.9,
            sublinear_tf=True,
            stop_words="english",
            max_features=self.max_features,
        )
        matrix = vectorizer.fit_transform(list(texts))
        model = LogisticRegression(
            C=self.c, max_iter=2000, random_state=RANDOM_STATE, class_weight="balanced"
        )
        model.fit(matrix, list(labels))
        self._vectorizer, self._model = vectorizer, model
        self.labels = [str(label) for label in model.classes_]
        return self

    def predict(self, text: str) -> tuple[str, float]:
        """The most likely label of text and its probability."""
        return self.predict_many([text])[0]

    def predict_many(self, texts: Iterable[str]) -> list[tuple[str, float]]:
        """(label, confidence) for each text, in order."""
        if self._vectorizer is None or self._model is None:
            raise RuntimeError("AreaClassifier.predict called before fit")
        batch = list(texts)
        if not batch:
            return []
        proba = self._model.predict_proba(self._vectorizer.transform(batch))
        best = proba.argmax(axis=1)
        return [
            (self.labels[int(k)], min(1.0, max(0.0, float(row[k]))))
            for k, row in zip(best, proba, strict=True)
        ]
