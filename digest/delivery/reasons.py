"""Why one recipient cannot be sent to, and whether a failure's reason can change."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_IN_ADDRESS = re.compile(r'[\x00-\x20\x7f"<>()\[\]\\,;:]')
"""Characters no address as the roster import normalizes it holds (nor any header may)."""
INVALID = "invalid recipient"
"""How every reason ``recipient_problem`` gives starts: a permanent failure."""

_TRANSIENT = re.compile(
    r"^(?:SendGrid [45]\d\d\b|SMTP 4\d\d\b|rate limited|connection refused|could not send|"
    r"SMTP relay .* unreachable|SMTP relay refused us|no answer|\[Errno \d+\])"
)
"""Reasons of failures that can change: a whole request refused (4xx, 5xx) or not
delivered, a temporary SMTP reply, an unreachable relay, a local I/O error."""


def recipient_problem(email: str, name: str) -> str | None:
    """Why a ledger row cannot be made into a message (a hostile or legacy row), or None.

    Cheap enough for every recipient of a send: the roster import validates fully.
    """
    if not name.isprintable() and _CONTROL.search(name):  # isprintable: the fast path
        return f"{INVALID}: the name holds a line break or control character"
    local, _, domain = email.rpartition("@")
    if (
        _NOT_IN_ADDRESS.search(email)
        or not local
        or "@" in local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or ".." in domain
    ):
        shown = email.encode("unicode_escape").decode("ascii")[:100]
        return f"{INVALID}: {shown!r} is not an address"
    return None


def transient(reason: str) -> bool:
    """True when a failure with this reason may not happen again (``send --retry-failed``).

    Permanent: the server refused the recipient (SMTP 5xx), the row is invalid, or the
    message is too large for it; everything not known to be transient counts as permanent.
    """
    return bool(_TRANSIENT.match(reason))
