"""Quality and speed benchmark of the offline summarizer and the area classifier.

Usage: python bench/quality.py DATASET.jsonl [--limit N] [--part K/N] [--max-words W]
       [--max-sentences S]

DATASET holds one JSON record per line: {id, category, title, text, summary}, e.g. the BBC
dev set in ../shared/data. Prints ROUGE of digest's summaries against the reference and
against the lead of each article cut to the same number of words, how often each opens on a
word that points back to unseen text (the dangling-opener rate, with the words it counts),
summarizer throughput on one core, and classification accuracy with plenty and with only ten
examples per category. --part K/N keeps the articles whose id hashes to K modulo N, so knobs
can be tuned on one part (0/2) and checked on the other (1/2).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rouge_score import rouge_scorer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from digest.classify import AreaClassifier
from digest.summarize import ExtractiveSummarizer
from digest.summarize.standalone import (
    COMMA_ONLY,
    CONNECTIVES,
    PRONOUNS,
    QUANTIFIERS,
    REPORTING_VERBS,
    opens_dangling,
)

METRICS = ("rouge1", "rouge2", "rougeL")
FEW_SHOT = 10
FEW_SHOT_SEEDS = (0, 1, 2, 3, 4)


def load(path: str, limit: int | None) -> list[dict[str, Any]]:
    """Records of a jsonl file; with limit, a fixed random sample of that many, in file order.

    Sampling rather than taking the head matters: the BBC file is sorted by category.
    """
    with open(path, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    if limit is None or limit >= len(records):
        return records
    keep = sorted(random.Random(0).sample(range(len(records)), limit))
    return [records[i] for i in keep]


def part(records: list[dict[str, Any]], spec: str) -> list[dict[str, Any]]:
    """The records whose id hashes (CRC-32) to K modulo N, for spec "K/N"."""
    k, n = (int(x) for x in spec.split("/"))
    if not 0 <= k < n:
        raise SystemExit(f"--part {spec}: need 0 <= K < N")
    return [r for r in records if zlib.crc32(str(r["id"]).encode()) % n == k]


def lead(text: str, words: int) -> str:
    """The first `words` words of text (the same-length lead baseline)."""
    return " ".join(text.split()[:words])


def bench_rouge(records: list[dict[str, Any]], summaries: list[str]) -> None:
    """Print ROUGE F1 of the summaries and of same-length lead text."""
    scorer = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)
    ours = {m: 0.0 for m in METRICS}
    base = {m: 0.0 for m in METRICS}
    for record, summary in zip(records, summaries, strict=True):
        s_ours = scorer.score(record["summary"], summary)
        s_base = scorer.score(record["summary"], lead(record["text"], len(summary.split())))
        for m in METRICS:
            ours[m] += s_ours[m].fmeasure
            base[m] += s_base[m].fmeasure
    n = len(records)
    print(f"{'ROUGE F1':<10}{'digest':>9}{'lead':>9}{'delta':>9}")
    for m in METRICS:
        a, b = 100 * ours[m] / n, 100 * base[m] / n
        print(f"{m:<10}{a:>9.2f}{b:>9.2f}{a - b:>+9.2f}")
    words = [len(s.split()) for s in summaries]
    print(f"mean words per summary: {statistics.mean(words):.1f} (max {max(words)})")


def bench_dangling(records: list[dict[str, Any]], summaries: list[str]) -> None:
    """Print how often summaries and same-length leads open on a word pointing back."""
    ours: Counter[str] = Counter()
    base: Counter[str] = Counter()
    for record, summary in zip(records, summaries, strict=True):
        if found := opens_dangling(summary):
            ours[found.kind] += 1
        if found := opens_dangling(lead(record["text"], len(summary.split()))):
            base[found.kind] += 1
    n = len(records)
    for name, counts in (("digest", ours), ("lead", base)):
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
        print(f"dangling openers, {name}: {100 * counts.total() / n:.2f}% "
              f"({counts.total()} of {n}{'; ' + kinds if kinds else ''})")  # fmt: skip
    print("  counted: an opening connective: " + ", ".join(CONNECTIVES)
          + f" ({', '.join(COMMA_ONLY)} only before a comma)")  # fmt: skip
    print("  an opening pronoun (also after a fronted adverb or phrase): " + ", ".join(PRONOUNS)
          + "; " + ", ".join(QUANTIFIERS) + " before a verb or 'of them'")  # fmt: skip
    print("  a reporting clause outside quotes (', he/she/they/it VERB'): "
          + ", ".join(REPORTING_VERBS))  # fmt: skip


def bench_speed(records: list[dict[str, Any]], summarizer: ExtractiveSummarizer) -> None:
    """Print single-core summarizer throughput after a warm-up pass."""
    for record in records[:200]:
        summarizer.summarize(record["text"], record["title"])
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for record in records:
            summarizer.summarize(record["text"], record["title"])
        best = min(best, time.perf_counter() - start)
    per = best / len(records)
    print(f"summarizer speed: {1000 * per:.3f} ms/article, {1 / per:,.0f} articles/s "
          "(one core, best of 3 passes after warm-up)")  # fmt: skip


def evaluate(train: list[dict[str, Any]], test: list[dict[str, Any]]) -> tuple[float, float]:
    """Accuracy and macro-F1 of an AreaClassifier trained on train, tested on test."""
    clf = AreaClassifier().fit([_doc(r) for r in train], [r["category"] for r in train])
    predicted = [label for label, _ in clf.predict_many(_doc(r) for r in test)]
    truth = [r["category"] for r in test]
    return accuracy_score(truth, predicted), f1_score(truth, predicted, average="macro")


def few_shot_split(
    records: list[dict[str, Any]], seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """FEW_SHOT random records per category for training, all the others for testing."""
    rng = random.Random(seed)
    shuffled = records[:]
    rng.shuffle(shuffled)
    taken: dict[str, int] = {}
    train, test = [], []
    for record in shuffled:
        cat = record["category"]
        if taken.get(cat, 0) < FEW_SHOT:
            taken[cat] = taken.get(cat, 0) + 1
            train.append(record)
        else:
            test.append(record)
    return train, test


def bench_classifier(records: list[dict[str, Any]]) -> None:
    """Print classification accuracy and macro-F1 for the 80/20 and few-shot settings."""
    labels = [r["category"] for r in records]
    counts = Counter(labels)
    if len(counts) < 2 or min(counts.values()) < 5:
        print(f"area classifier: skipped, needs >= 2 categories with >= 5 articles: {counts}")
        return
    train, test = train_test_split(records, test_size=0.2, stratify=labels, random_state=0)
    acc, f1 = evaluate(train, test)
    print(f"area classifier, 80% train ({len(train)}), {len(test)} test: "
          f"accuracy {100 * acc:.2f}%, macro-F1 {100 * f1:.2f}%")  # fmt: skip
    results = [evaluate(*few_shot_split(records, seed)) for seed in FEW_SHOT_SEEDS]
    accs = [100 * a for a, _ in results]
    f1s = [100 * f for _, f in results]
    print(f"area classifier, {FEW_SHOT}/category train, rest test, seeds {list(FEW_SHOT_SEEDS)}: "
          f"accuracy {statistics.mean(accs):.2f}% (min {min(accs):.2f}, max {max(accs):.2f}, "
          f"sd {statistics.stdev(accs):.2f}), macro-F1 {statistics.mean(f1s):.2f}% "
          f"(min {min(f1s):.2f}, max {max(f1s):.2f})")  # fmt: skip


def _doc(record: dict[str, Any]) -> str:
    """What the classifier sees: title and text."""
    return f"{record.get('title') or ''}\n\n{record['text']}"


def main() -> None:
    """Run the benchmark described in the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--part", default=None, metavar="K/N")
    parser.add_argument("--max-words", type=int, default=60)
    parser.add_argument("--max-sentences", type=int, default=3)
    args = parser.parse_args()
    records = load(args.dataset, args.limit)
    if args.part:
        records = part(records, args.part)
    summarizer = ExtractiveSummarizer(max_sentences=args.max_sentences, max_words=args.max_words)
    print(f"dataset: {args.dataset}{' part ' + args.part if args.part else ''} "
          f"({len(records)} articles); "
          f"budget {args.max_sentences} sentences / {args.max_words} words")  # fmt: skip
    summaries = [summarizer.summarize(r["text"], r["title"]) for r in records]
    bench_rouge(records, summaries)
    bench_dangling(records, summaries)
    bench_speed(records, summarizer)
    bench_classifier(records)


if __name__ == "__main__":
    main()
