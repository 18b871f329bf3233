"""Per-recipient placeholders: tokens content cannot spell, filled with values escaped per part.

A rendering carries tokens such as ``-email.<key>-`` where the backend puts a reader's address,
name or links. ``key`` is random per rendering and chosen after the issue's content is fixed,
so a feed author, a subscriber row or a desk editor cannot write a token into a title, a link or
a summary: their ``-email-`` stays text. Values are escaped for the part they land in (HTML,
plain text, a header), whichever spelling the template used, and filled in one pass, so a value
is never scanned for tokens itself.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from html import escape

FIELDS: dict[str, str] = {
    "email": "email",
    "email_html": "email",
    "name": "name",
    "name_html": "name",
    "unsubscribe_url": "unsubscribe_url",
    "preferences_url": "preferences_url",
}
"""Each placeholder field and the recipient value it stands for (``_html``: kept for templates)."""
PARTS = ("html", "text", "header")
"""Where a value can land; each has its own escaping."""
KEY_BYTES = 12
"""Random bytes of a rendering's key: 96 bits, never guessed before the rendering exists."""


def _one_line(value: str) -> str:
    """``value`` with control characters and line breaks as single spaces."""
    if value.isprintable():
        return value
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


ESCAPE: dict[str, Callable[[str], str]] = {
    "html": lambda value: escape(value, quote=True),  # right in text and in attributes
    "text": _one_line,
    "header": _one_line,
}


@dataclass(frozen=True, slots=True)
class Placeholders:
    """The per-recipient tokens of one rendering, by field.

    ``key`` "" marks a rendering stored before keys existed: its tokens are the bare ``-email-``
    spellings, which content can write; only such old issues are filled that way.
    """

    key: str = ""

    @classmethod
    def fresh(cls, content: str) -> Placeholders:
        """New random tokens, with a key that occurs nowhere in ``content``."""
        while True:
            key = secrets.token_hex(KEY_BYTES)
            if key not in content:
                return cls(key)

    def token(self, field: str, part: str = "") -> str:
        """The token of ``field``; with ``part``, its spelling for that part (SendGrid)."""
        return "-" + ".".join(p for p in (field, self.key, part) if p) + "-"

    @property
    def email(self) -> str:
        return self.token("email")

    @property
    def email_html(self) -> str:
        return self.token("email_html")

    @property
    def name(self) -> str:
        return self.token("name")

    @property
    def name_html(self) -> str:
        return self.token("name_html")

    @property
    def unsubscribe_url(self) -> str:
        return self.token("unsubscribe_url")

    @property
    def preferences_url(self) -> str:
        return self.token("preferences_url")


@lru_cache(maxsize=64)
def pieces(template: str, key: str) -> tuple[str, ...]:
    """``template`` split into literal text (even indexes) and field names (odd indexes)."""
    tokens = Placeholders(key)
    pattern = "|".join(re.escape(tokens.token(f)) for f in sorted(FIELDS, key=len, reverse=True))
    split = re.split(f"({pattern})", template)
    by_token = {tokens.token(f): f for f in FIELDS}
    return tuple(p if i % 2 == 0 else by_token[p] for i, p in enumerate(split))


def used(template: str, placeholders: Placeholders) -> set[str]:
    """The fields whose tokens ``template`` holds."""
    return set(pieces(template, placeholders.key)[1::2])


def fill(template: str, placeholders: Placeholders, part: str, values: Mapping[str, str]) -> str:
    """``template`` with each token replaced by its recipient value, escaped for ``part``.

    ``values`` maps recipient values (``email``, ``name``, ``unsubscribe_url``,
    ``preferences_url``) to raw text; escaping is done here.
    """
    split = pieces(template, placeholders.key)
    if len(split) == 1:
        return template
    esc = ESCAPE[part]
    done = {field: esc(values[source]) for field, source in FIELDS.items()}
    return "".join([p if i % 2 == 0 else done[p] for i, p in enumerate(split)])


def respell(template: str, placeholders: Placeholders, part: str) -> str:
    """``template`` with each token in its ``part`` spelling (SendGrid substitutes per key)."""
    split = pieces(template, placeholders.key)
    if len(split) == 1:
        return template
    return "".join([p if i % 2 == 0 else placeholders.token(p, part) for i, p in enumerate(split)])
