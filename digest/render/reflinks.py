"""Link references of the plain-text part: ``[n]`` in the text, ``[n] url`` at the end.

Partials mark each link with ``url | ref`` (or ``ref(url)``); the marker survives caching,
and the numbers are given per segment in order of first appearance, so a cached section reads
``[1]`` in one segment and ``[7]`` in another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

REF = "\x02"
_TRAILING_SPACE = re.compile(r"[ \t]+$", re.M)


def ref(url: str) -> str:
    """The marker a text partial writes for ``url`` (the ``ref`` filter and function)."""
    return f"{REF}{url}{REF}"


def tidy(text: str) -> str:
    """``text`` without trailing whitespace on its lines."""
    text = str(text)
    if " \n" in text or "\t" in text or text.endswith(" "):
        return _TRAILING_SPACE.sub("", text)
    return text


_NUMBERS = [f"[{n}]" for n in range(2048)]


def _label(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else f"[{n}]"


@dataclass(frozen=True, slots=True)
class Linked:
    """Text whose link references are not numbered yet: the text between them, and the URLs.

    ``pieces`` has one more item than ``urls``: the text before the first link, between each
    two, and after the last.
    """

    pieces: tuple[str, ...]
    urls: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Linked:
        """``text`` with each ``ref(url)`` marker taken out as a link to number."""
        split = text.split(REF)
        return cls(tuple(split[::2]), tuple(split[1::2]))

    def numbered(self, first: int) -> str:
        """The text with its links numbered from ``first`` on."""
        if not self.urls:
            return self.pieces[0]
        out = [""] * (2 * len(self.urls) + 1)
        out[::2] = self.pieces
        last = first + len(self.urls)
        out[1::2] = (
            _NUMBERS[first:last] if last <= len(_NUMBERS) else map(_label, range(first, last))
        )
        return "".join(out)

    def number(self, links: dict[str, int]) -> str:
        """The text with each URL as ``[n]``; ``links`` maps URLs to numbers and grows."""
        out = [""] * (2 * len(self.urls) + 1)
        out[::2] = self.pieces
        out[1::2] = [_label(links.setdefault(url, len(links) + 1)) for url in self.urls]
        return "".join(out)

    def fill(self, slot: str, items: Iterable[Linked], separator: str = "\n") -> Linked:
        """This text with ``slot`` (written once, in plain text) replaced by ``items``, joined."""
        at = next((i for i, piece in enumerate(self.pieces) if slot in piece), None)
        if at is None:
            return self
        head, _, tail = self.pieces[at].partition(slot)
        pieces = [*self.pieces[:at], head]
        urls = list(self.urls[:at])
        for i, item in enumerate(items):
            pieces[-1] += item.pieces[0] if i == 0 else separator + item.pieces[0]
            pieces += item.pieces[1:]
            urls += item.urls
        pieces[-1] += tail
        pieces += self.pieces[at + 1 :]
        return Linked(tuple(pieces), (*urls, *self.urls[at:]))


def number(parts: list[Linked]) -> tuple[list[str], str]:
    """Each part's text with its URLs numbered in order of first appearance across ``parts``,
    and the list of numbered links, one ``[n] url`` per line."""
    urls = list(chain.from_iterable([part.urls for part in parts]))
    if len(set(urls)) < len(urls):
        links: dict[str, int] = {}
        texts = [part.number(links) for part in parts]
        return texts, references(list(links))
    texts = []
    first = 1
    for part in parts:  # every URL appears once: its number is its position
        texts.append(part.numbered(first))
        first += len(part.urls)
    return texts, references(urls)


def references(urls: list[str]) -> str:
    """The lines ``[n] url``, numbered from 1."""
    count = len(urls)
    out = [" "] * (4 * count)
    labels = _NUMBERS[1 : count + 1] if count < len(_NUMBERS) else map(_label, range(1, count + 1))
    out[::4] = labels
    out[2::4] = urls
    out[3::4] = ["\n"] * count
    return "".join(out[:-1])
