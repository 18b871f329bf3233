"""The email policy of digest's messages: list headers stay plain ASCII, folded between items.

Python's default policy folds a long unstructured header by RFC 2047-encoding it
(``=?utf-8?q?=3Chttps=3A//...?=``) when a single word is longer than a line, as an unsubscribe
URL is. RFC 2369 clients and the one-click unsubscribe of the big mailbox providers then see no
URL. ``List-Unsubscribe``, ``List-Unsubscribe-Post`` and ``List-Id`` are written as they are,
folded only after the comma between ``<...>`` items (RFC 5322 folding whitespace), never
inside one; a line may pass 78 characters (a SHOULD) but a URL is never broken.
"""

from __future__ import annotations

from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.policy import default
from typing import Any

LIST_HEADERS = ("list-unsubscribe", "list-unsubscribe-post", "list-id")


class ListHeader(UnstructuredHeader, BaseHeader):
    """An RFC 2369 / 2919 / 8058 header: ASCII as given, folded only between its items."""

    def fold(self, *, policy: Any) -> str:
        value = str(self)
        if not value.isascii():  # not a header digest writes; keep the library's encoding
            return str(super().fold(policy=policy))
        limit = policy.max_line_length or 78
        items = value.split(", ")
        lines = [f"{self.name}: {items[0]}"]
        for item in items[1:]:
            if len(lines[-1]) + 2 + len(item) <= limit:
                lines[-1] += ", " + item
            else:
                lines[-1] += ","
                lines.append(" " + item)
        linesep = str(policy.linesep)
        return linesep.join(lines) + linesep


def _registry() -> HeaderRegistry:
    registry = HeaderRegistry()
    for name in LIST_HEADERS:
        registry.map_to_type(name, ListHeader)
    return registry


POLICY = default.clone(header_factory=_registry())
"""``email.policy.default`` with the list headers above."""
