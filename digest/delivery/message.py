"""Build one RFC 5322 message for one recipient from an envelope."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from html import escape

from ..models import Envelope, Recipient
from ..render import PLACEHOLDERS, fill

VALUES: dict[str, Callable[[Recipient], str]] = {
    PLACEHOLDERS.email_html: lambda r: escape(r.email),
    PLACEHOLDERS.email: lambda r: r.email,
    PLACEHOLDERS.name_html: lambda r: escape(r.name),
    PLACEHOLDERS.name: lambda r: r.name,
    PLACEHOLDERS.unsubscribe_url: lambda r: r.unsubscribe_url,
    PLACEHOLDERS.preferences_url: lambda r: r.preferences_url,
}
"""How each placeholder's value comes from a recipient, HTML-escaped where it lands in HTML."""
ONE_CLICK = "List-Unsubscribe=One-Click"
"""The ``List-Unsubscribe-Post`` value (RFC 8058) every message carries."""


def substitutions(recipient: Recipient) -> dict[str, str]:
    """Placeholder → value for one recipient."""
    return {token: value(recipient) for token, value in VALUES.items()}


def substituter(used: Iterable[str]) -> Callable[[Recipient], dict[str, str]]:
    """A function giving a recipient's values of just the placeholders in ``used``."""
    pairs = [(token, VALUES[token]) for token in used]
    return lambda recipient: {token: value(recipient) for token, value in pairs}


def mailto_suffix(envelope: Envelope) -> str:
    """What follows the https URL in ``List-Unsubscribe``: a mailto, when one is configured."""
    if not envelope.unsubscribe_mailto:
        return ""
    return f", <mailto:{envelope.unsubscribe_mailto}?subject=unsubscribe>"


def list_unsubscribe(envelope: Envelope, recipient: Recipient) -> str:
    """The ``List-Unsubscribe`` value: the https URL, plus a mailto when configured."""
    return f"<{recipient.unsubscribe_url}>{mailto_suffix(envelope)}"


def message_id(envelope: Envelope, recipient: Recipient) -> str:
    """A stable Message-ID: the same issue and recipient always get the same one."""
    domain = envelope.from_address.rpartition("@")[2]
    digest = hashlib.sha256(
        f"{envelope.list_name}/{envelope.issue_id}/{recipient.subscriber_id}".encode()
    ).hexdigest()[:24]
    return f"<digest.{digest}@{domain}>"


def build_message(
    envelope: Envelope, recipient: Recipient, date: str | None = None
) -> EmailMessage:
    """The full multipart/alternative message (text, then HTML) for one recipient."""
    values = substitutions(recipient)
    email = envelope.email
    msg = EmailMessage()
    msg["From"] = Address(display_name=envelope.from_name, addr_spec=envelope.from_address)
    msg["To"] = Address(display_name=recipient.name, addr_spec=recipient.email)
    if envelope.reply_to:
        msg["Reply-To"] = envelope.reply_to
    msg["Subject"] = fill(email.subject, values)
    msg["Date"] = date or formatdate(localtime=False)
    msg["Message-ID"] = message_id(envelope, recipient)
    domain = envelope.from_address.rpartition("@")[2]
    msg["List-Id"] = f"<{envelope.list_name}.{domain}>"
    msg["List-Unsubscribe"] = list_unsubscribe(envelope, recipient)
    msg["List-Unsubscribe-Post"] = ONE_CLICK
    msg["X-Digest-Issue"] = envelope.issue_key
    msg.set_content(
        fill(email.text, values), subtype="plain", charset="utf-8", cte="quoted-printable"
    )
    msg.add_alternative(
        fill(email.html, values), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    return msg
