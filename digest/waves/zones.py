"""Readers' time zones: IANA names checked like areas, with a did-you-mean."""

from __future__ import annotations

import difflib
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@lru_cache(maxsize=1)
def _known() -> dict[str, str]:
    """Every zone name this machine knows, by its lower-case spelling."""
    return {name.lower(): name for name in available_timezones()}


def suggest(name: str) -> str | None:
    """The known zone nearest to ``name``, if any is near."""
    known = _known()
    lowered = name.strip().lower().replace(" ", "_")
    if lowered in known:
        return known[lowered]
    near = difflib.get_close_matches(lowered, list(known), n=1, cutoff=0.75)
    if not near:
        tails = {k.rsplit("/", 1)[-1]: k for k in known}
        near = [tails[t] for t in difflib.get_close_matches(lowered, list(tails), 1, 0.8)]
    return known[near[0]] if near else None


def check_zone(name: str) -> str:
    """``name`` if it is an IANA zone; ValueError naming the nearest one otherwise.

    Never corrected silently: ``europe/berlin`` is refused with "did you mean 'Europe/Berlin'?".
    """
    try:
        if name and "/" not in name.strip("/") and name not in ("UTC", "GMT"):
            raise ZoneInfoNotFoundError(name)
        ZoneInfo(name)
        if name.lower() not in _known() and name != "UTC":
            raise ZoneInfoNotFoundError(name)
        if _known()[name.lower()] != name:
            raise ZoneInfoNotFoundError(name)
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        near = suggest(name)
        hint = f" (did you mean {near!r}?)" if near else " (expected e.g. 'Europe/Berlin')"
        raise ValueError(f"unknown time zone {name!r}{hint}") from None
    return name


def zone_names() -> list[str]:
    """Every IANA zone name this machine knows, sorted, for a chooser."""
    return sorted(n for n in _known().values() if "/" in n and not n.startswith(("Etc/", "posix")))
