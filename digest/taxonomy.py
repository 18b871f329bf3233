"""Areas of focus: canonical names, aliases, and normalization of what posts carry."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from .config import TaxonomySettings

_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=4096)  # a feed's categories repeat entry after entry
def area_key(name: str) -> str:
    """Case-, accent-, punctuation- and whitespace-insensitive key of an area name."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    folded = folded.replace("&", " and ")
    return " ".join(_NON_WORD.sub(" ", folded).split())


class Taxonomy:
    """Maps any spelling of an area to its canonical name; unknown areas are kept as written."""

    def __init__(self, settings: TaxonomySettings):
        self.settings = settings
        self.catch_all = settings.catch_all
        self._canonical: dict[str, str] = {}
        for area in settings.areas:
            for spelling in (area.name, *area.aliases):
                self._canonical.setdefault(area_key(spelling), area.name)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.settings.areas]

    def canonical(self, name: str) -> str | None:
        """The canonical name for ``name``; unknown names come back tidied, empty ones None."""
        key = area_key(name)
        if not key:
            return None
        return self._canonical.get(key) or " ".join(name.split())

    def normalize(self, names: Iterable[str]) -> tuple[str, ...]:
        """Canonical names in order, without duplicates or empties."""
        out: list[str] = []
        for name in names:
            canon = self.canonical(name)
            if canon and canon not in out:
                out.append(canon)
        return tuple(out)

    def is_known(self, name: str) -> bool:
        return area_key(name) in self._canonical

    def suggest(self, name: str) -> str | None:
        """The canonical area whose name or alias is spelt most like ``name``, if one is close."""
        close = difflib.get_close_matches(area_key(name), list(self._canonical), n=1, cutoff=0.6)
        return self._canonical[close[0]] if close else None
