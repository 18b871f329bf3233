"""Recognise sentences that lean on text before them, so a summary can open without them.

A summary is read without its article, so its first sentence must not open with a connective
("However, …", "But …"), a pronoun whose antecedent the reader never saw ("They were …",
"Today they …", "His plan …"), or carry a reporting clause with such a pronoun ("…, she noted").
The word lists are public (``CONNECTIVES``, ``PRONOUNS``, ``REPORTING_VERBS``) so the quality
bench can print exactly what it counts; the summarizer and the bench share this one detector.

Precision over recall, as in the boilerplate rules: "It is unclear whether …", "This week …"
and a quotation's own "they" are not flagged, because a false alarm costs a good sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from digest.summarize.splitter import split_sentences

__all__ = [
    "COMMA_ONLY",
    "CONNECTIVES",
    "PRONOUNS",
    "QUANTIFIERS",
    "REPORTING_VERBS",
    "Dangling",
    "dangling",
    "opens_dangling",
    "strip_connective",
]


def _words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of a literal, in order."""
    return tuple(text.split())


# Discourse connectives that only make sense after another sentence. Multi-word ones are
# joined with "_" here and matched with spaces. "Still", "Then" and "Now" count only before a
# comma ("Still, …"), where they cannot be an adverb of the clause ("Still more …").
CONNECTIVES = tuple(
    w.replace("_", " ")
    for w in _words(
        "however but and also meanwhile yet moreover furthermore nevertheless nonetheless "
        "besides additionally consequently therefore thus hence likewise similarly instead "
        "otherwise indeed nor or plus regardless accordingly conversely subsequently "
        "in_addition in_contrast by_contrast on_the_other_hand as_a_result even_so "
        "at_the_same_time despite_this despite_that in_turn that_said having_said_that "
        "in_any_case after_all on_top_of_that in_the_meantime for_their_part for_his_part "
        "for_her_part for_its_part as_such to_be_sure still then now"
    )
)
COMMA_ONLY = _words("still then now regardless")
_COMMA_ONLY = frozenset(COMMA_ONLY)
# "Nor did he …" inverts, "Otherwise the talks fail" is a condition: dropping them misleads.
_UNSTRIPPABLE = frozenset(_words("nor otherwise"))
_CONNECTIVE = re.compile(
    r"^(?P<word>"
    + "|".join(re.escape(c) for c in sorted(CONNECTIVES, key=len, reverse=True))
    + r")\b(?P<comma>\s*,)?\s*",
    re.IGNORECASE,
)

# Pronouns (and possessives) that, as the subject of an opening clause, need an antecedent.
PRONOUNS = _words("he she they it this these that those his her their its such others")
# "This week …", "These days …": deictic, not anaphoric.
_TIME_NOUNS = frozenset(
    _words(
        "week weekend year month morning afternoon evening night season summer winter spring "
        "autumn fall quarter century decade days christmas"
    )
)
# "It is unclear whether …", "It emerged that …": an expletive "it" points at nothing.
_BE = (
    r"(?:\s+(?:is|was|has been|had been|will be|would be|could be|may be|might be|"
    r"seems|seemed|appears|appeared|remains|remained|became|looks|looked)|['’]s)"
)
_EXTRAPOSED = (
    r"(?:clear|unclear|likely|unlikely|possible|impossible|time|important|hard|difficult|easy|"
    r"necessary|vital|essential|understood|thought|believed|expected|feared|hoped|reported|"
    r"estimated|known|unknown|claimed|alleged|rumoured|rumored|true|worth|too early|a shame|"
    r"no surprise|no secret|not surprising|surprising)"
)
_EXPLETIVE_IT = re.compile(
    rf"^it{_BE}(?:\s+(?:not|now|still|also|increasingly|far|very|too|so|more|less|quite))*"
    rf"\s+(?:{_EXTRAPOSED}\b|[\w-]+\s+(?:that|whether|if|how|what|why|when|who|where)\b)"
    r"|^it\s+(?:has\s+|had\s+)?(?:emerged|transpired|follows|seems|appears)\b",
    re.IGNORECASE,
)
# "Some have …", "Many say …": a quantifier standing for people named before.
QUANTIFIERS = _words("some many most both few several all")
_QUANTIFIERS = frozenset(QUANTIFIERS)
_AFTER_QUANTIFIER = frozenset(
    _words(
        "have had are were will would can could may might must should say said argue argued "
        "believe believed fear feared think thought warn warned claim claimed"
    )
)
# Short fronted adverbs after which a pronoun is still the clause's subject ("Today they …").
_FRONTED = frozenset(
    _words(
        "today now then yesterday recently currently soon already later earlier previously "
        "once finally eventually instead often sometimes increasingly again here there"
    )
)
_FRONTED_PHRASE = re.compile(r"^[^,\"“”]{1,40},\s+")  # "In 2004, …", "After the vote, …"
# After a fronted phrase ("In 2004, he …") only personal subjects count: "In 2004, this …"
# is usually a determiner before a noun that the phrase itself explains.
_SUBJECTS = frozenset(_words("he she they his her their"))

REPORTING_VERBS = _words(
    "said says added adds noted notes told tells explained explains argued argues warned "
    "warns insisted insists claimed claims stressed stresses wrote writes continued "
    "concluded acknowledged admitted suggested suggests observed remarked stated confirmed "
    "replied maintained reckons reckoned predicted estimated believes believed thinks "
    "thought pointed cautioned emphasised emphasized announced recalled"
)
_REPORTING = re.compile(
    r"[,\"”’]\s*(?P<word>he|she|they|it)\s+(?:" + "|".join(REPORTING_VERBS) + r")\b",
    re.IGNORECASE,
)
_QUOTE_START = re.compile(r"^[\"“‘']")
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Dangling:
    """Why a sentence cannot open a summary: what kind of reference, and the word(s)."""

    kind: Literal["connective", "pronoun", "reporting"]
    word: str


def dangling(sentence: str) -> Dangling | None:
    """What in a sentence points back to text before it; None when it stands alone."""
    text = sentence.strip()
    match = _CONNECTIVE.match(text)
    if match and (match.group("comma") or match.group("word").lower() not in _COMMA_ONLY):
        return Dangling("connective", match.group("word"))
    pronoun = _opening_pronoun(text)
    if pronoun:
        return Dangling("pronoun", pronoun)
    for report in _REPORTING.finditer(text):
        if not _inside_quotes(text, report.start("word")):
            return Dangling("reporting", report.group(0).strip(' ,"”’'))
    return None


def opens_dangling(summary: str) -> Dangling | None:
    """What makes a summary's first sentence lean on unseen text; None when it stands alone."""
    sentences = split_sentences(summary)
    return dangling(sentences[0]) if sentences else None


def strip_connective(sentence: str) -> str:
    """The sentence without its opening connective, re-capitalised; unchanged if it has none.

    Only a connective followed by a clause is stripped: what is left must have at least three
    words, else the sentence is returned as it was.
    """
    match = _CONNECTIVE.match(sentence)
    if not match:
        return sentence
    word = match.group("word").lower()
    if word in _UNSTRIPPABLE or (not match.group("comma") and word in _COMMA_ONLY):
        return sentence
    rest = sentence[match.end() :]
    if len(rest.split()) < 3 or (not rest[0].isalnum() and not _QUOTE_START.match(rest)):
        return sentence
    return _capitalise(rest)


def _capitalise(text: str) -> str:
    """Upper-case the first letter (after an opening quote), leaving the rest alone."""
    for i, char in enumerate(text):
        if char.isalpha():
            return text[:i] + char.upper() + text[i + 1 :]
        if char.isdigit():
            break
    return text


def _inside_quotes(text: str, position: int) -> bool:
    """Whether position lies inside a quotation that opened before it."""
    before = text[:position]
    return before.count("“") > before.count("”") or before.count('"') % 2 == 1


def _opening_pronoun(text: str) -> str | None:
    """The anaphoric pronoun that is the subject of the sentence's opening clause, if any."""
    if _QUOTE_START.match(text):
        return None  # quoted speech: its pronouns are the speaker's, resolved by attribution
    words = _WORD.findall(text[:200])
    if not words:
        return None
    first = words[0].lower()
    if first in _FRONTED and len(words) > 1 and words[1].lower() in PRONOUNS:
        fronted = words[0]
        words = words[1:]
        first = words[0].lower()
    else:
        fronted = ""
        phrase = _FRONTED_PHRASE.match(text)
        if first not in PRONOUNS and phrase and len(phrase.group(0).split()) <= 6:
            rest = _WORD.findall(text[phrase.end() : phrase.end() + 80])
            if rest and rest[0].lower() in _SUBJECTS:
                return str(rest[0])
    following = words[1].lower() if len(words) > 1 else ""
    if first in _QUANTIFIERS and (
        following in _AFTER_QUANTIFIER
        or (
            following == "of"
            and len(words) > 2
            and words[2].lower() in ("them", "these", "those", "whom")
        )
    ):
        return f"{fronted} {words[0]} {words[1]}".strip()
    if first not in PRONOUNS:
        return None
    if first in ("this", "these", "that") and following in _TIME_NOUNS:
        return None
    if first == "it" and _EXPLETIVE_IT.match(text[text.find(words[0]) :]):
        return None
    return f"{fronted} {words[0]}".strip()
