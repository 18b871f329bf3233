"""Recognise sentences that are page furniture rather than article content.

Precision matters more than recall here: a news sentence wrongly flagged silently disappears
from every summary, while a missed credit line only costs one slot when it scores highly. So
every rule is anchored (start of the sentence, parentheses, a whole-line shape) instead of
looking for bare keywords such as "photo" or "subscribe" anywhere.
"""

from __future__ import annotations

import re

__all__ = ["is_boilerplate", "strip_dateline"]

_I = re.IGNORECASE

_CREDIT = re.compile(
    r"^\(?(?:photo(?:graph)?s?|images?|pictures?|pics?|video|graphic|illustration|"
    r"caption|image caption|media caption|credit)"
    r"(?:\s+(?:credits?|courtesy|by|from|via|source|caption)\b|\s*[:|/]|\s*$)"
    r"|\((?:ap|afp|reuters|ap photo|getty|epa|xinhua)\b[^)]*(?:photo|images?|/)[^)]*\)"
    r"|\b(?:getty images|shutterstock|alamy|istock(?:photo)?)(?:\s+for\s+[\w ]+)?\W*$"
    r"|^(?:courtesy of|source:|credit:)",
    _I,
)
_BYLINE = re.compile(r"^[Bb][Yy]\s+[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3}\s*(?:[,|/–—-]|$)")
_BYLINE_SHORT = re.compile(
    r"^\(?(?:posted|written|words|reporting|editing|edited|compiled|writing|photos?|"
    r"additional reporting)\s+by\b",
    _I,
)
_CALL_TO_ACTION = re.compile(
    r"^(?:read more|read the full|continue reading|keep reading|share this|share on|"
    r"subscribe\b|sign up\b|click here|tap here|follow us|like us on|advertisement|"
    r"sponsored|related(?: articles| stories| content)?\s*:|see also\s*:|tags?\s*:|"
    r"filed under|posted in|all rights reserved|copyright\b|©|loading\.\.\.|"
    r"this (?:article|story|post) (?:was )?(?:originally |first )?(?:appeared|published))",
    _I,
)
_CALL_ANYWHERE = re.compile(
    r"\bclick here\b|\bcontinue reading\b|\bread more\s*(?:[:»›>→]|$)|"
    r"\bsubscribe (?:to|for) (?:our|the) (?:newsletter|podcast|channel)|\bsign up for our\b",
    _I,
)
_APPEARED_FIRST = re.compile(r"^the post .+ appeared first on .+", _I)
_DATELINE = re.compile(
    r"^(?:[A-Z][A-Z.'’-]+(?:\s+[A-Z][A-Z.'’-]+){0,3}"
    r"(?:,\s*[A-Z][\w.]*(?:\s+[A-Z\d][\w.]*){0,2})?\s*"
    r"(?:\((?:Reuters|AP|AFP|Bloomberg|CNN|UPI|dpa|AAP|PA|Xinhua|IANS|PTI)\)\s*)?"
    r"|[A-Z][\w.]*(?:\s+[A-Z][\w.]*){0,3}\s*\((?:Reuters|AP|AFP|Bloomberg|UPI|dpa|AAP)\)\s*)"
    r"(?:[-–—]+|:)(?:\s+|$)"
)
_TERMINAL = frozenset(".!?…:;\"”’')»")
_SMALL = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "but",
        "by",
        "for",
        "from",
        "in",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "vs",
    ]
)


def strip_dateline(sentence: str) -> str:
    """Remove a wire-service dateline such as "WASHINGTON (Reuters) -" from the start."""
    m = _DATELINE.match(sentence)
    if m is None:
        return sentence
    head = sentence[: m.end()]
    # An all-caps run of one short word ("UK - ...") is too ambiguous to be a dateline.
    if "(" not in head and (sum(c.isupper() for c in head) < 4 or " - " in sentence[m.end() :]):
        return sentence  # "UK - ..." or "EADS - Airbus' owner - ..." are asides, not datelines
    return sentence[m.end() :]


def _is_title_case(words: list[str]) -> bool:
    """Whether at least three quarters of the non-trivial words are capitalised."""
    content = [w for w in words if w.lower() not in _SMALL and any(c.isalpha() for c in w)]
    capital = sum(1 for w in content if w[0].isupper() or w[0].isdigit())
    return capital >= 0.75 * len(content)


def _is_caption(sentence: str) -> bool:
    """A short Title Case line without closing punctuation: a caption or a heading."""
    if sentence[-1] in _TERMINAL:
        return False
    words = sentence.split()
    return len(words) <= 14 and _is_title_case(words)


def is_boilerplate(sentence: str) -> bool:
    """Whether a sentence is a credit, byline, dateline, call to action, or caption."""
    s = sentence.strip()
    if not s:
        return True
    if _CREDIT.search(s) or _CALL_TO_ACTION.match(s) or _APPEARED_FIRST.match(s):
        return True
    words = s.split()
    if len(words) <= 12 and (
        _BYLINE_SHORT.match(s) or (_BYLINE.match(s) and _is_title_case(words[1:]))
    ):
        return True
    if len(words) <= 25 and _CALL_ANYWHERE.search(s):
        return True
    rest = strip_dateline(s)
    if rest is not s and not any(c.isalnum() for c in rest):
        return True
    return _is_caption(s)
