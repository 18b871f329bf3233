"""Near-duplicate detection: 64-bit simhash of word shingles, matched by Hamming distance."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from hashlib import blake2b
from typing import Any

import numpy as np

MIN_WORDS = 40
"""Shorter texts get no fingerprint: excerpts that short collide too easily."""
MAX_DISTANCE = 8
"""Fingerprints this many bits apart or fewer are the same text, lightly edited."""
_P1 = np.uint64(0x9E3779B97F4A7C15)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_MAX_WORDS = 2000
_MASK = (1 << 64) - 1


_cache: dict[str, int] = {}


def _hashes(words: list[str]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Stable 64-bit hashes of ``words`` (blake2b, cached: the vocabulary repeats)."""
    cache = _cache
    if len(cache) > 200_000:
        cache.clear()
    for word in set(words).difference(cache):
        cache[word] = int.from_bytes(blake2b(word.encode(), digest_size=8).digest(), "little")
    return np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))


def simhash(text: str) -> int | None:
    """A signed 64-bit fingerprint of ``text`` (SQLite-friendly), or None when too short."""
    words = text.casefold().split()[:_MAX_WORDS]  # punctuation stays on its word: still stable
    if len(words) < MIN_WORDS:
        return None
    h = _hashes(words)
    shingles = h[:-2] * _P1 ^ h[1:-1] * _P2 ^ h[2:]  # 3-word shingles (wrapping multiply)
    votes = _popcounts_by_bit(shingles) * 2 - len(shingles)
    value = int.from_bytes(np.packbits(votes > 0).tobytes(), "big")
    return value - (1 << 64) if value >= 1 << 63 else value


def _popcounts_by_bit(values: np.ndarray[Any, np.dtype[np.uint64]]) -> Any:
    """How many of ``values`` have each of the 64 bits set (big-endian bit order)."""
    bits = np.unpackbits(values.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1)
    # a product with ones sums the columns in a third less time than .sum(axis=0); float32
    # counts exactly up to 2**24, far above _MAX_WORDS
    return (np.ones(len(bits), dtype=np.float32) @ bits.astype(np.float32)).astype(np.int64)


_TABLE = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(values: np.ndarray[Any, np.dtype[np.uint64]]) -> Any:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    return _TABLE[values.view(np.uint8)].reshape(-1, 8).sum(axis=1)


def distance(a: int, b: int) -> int:
    """Number of differing bits between two fingerprints."""
    return ((a ^ b) & _MASK).bit_count()


class Fingerprints:
    """An in-memory set of (post id, fingerprint), searched with numpy."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.values = np.zeros(0, dtype=np.uint64)
        self.last_id = 0
        self.lock = threading.Lock()

    def add_many(self, rows: Iterable[tuple[int, int]]) -> None:
        rows = list(rows)
        if not rows:
            return
        with self.lock:
            ids = np.array([i for i, _ in rows], dtype=np.int64)
            values = np.array([v & _MASK for _, v in rows], dtype=np.uint64)
            keep = ~np.isin(self.ids, ids)
            self.ids = np.concatenate([self.ids[keep], ids])
            self.values = np.concatenate([self.values[keep], values])
            self.last_id = max(self.last_id, int(ids.max()))

    def add(self, post_id: int, fingerprint: int) -> None:
        self.add_many([(post_id, fingerprint)])

    def match(self, fingerprint: int | None) -> int | None:
        """The lowest id whose fingerprint is within MAX_DISTANCE bits, or None."""
        if fingerprint is None:
            return None
        with self.lock:
            if not len(self.ids):
                return None
            bits = _popcount(self.values ^ np.uint64(fingerprint & _MASK))
            close = self.ids[bits <= MAX_DISTANCE]
        return int(close.min()) if len(close) else None
