"""Build one RFC 5322 message for one recipient from an envelope."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from ..models import Envelope, Recipient
from ..placeholders import fill
from .headers import POLICY

ONE_CLICK = "List-Unsubscribe=One-Click"
"""The ``List-Unsubscribe-Post`` value (RFC 8058) every message carries."""


def recipient_values(recipient: Recipient) -> dict[str, str]:
    """The raw values a recipient's placeholders stand for (escaped when filled)."""
    return {
        "email": recipient.email,
        "name": recipient.name,
        "unsubscribe_url": recipient.unsubscribe_url,
        "preferences_url": recipient.preferences_url,
    }


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
    values = recipient_values(recipient)
    email = envelope.email
    tokens = email.placeholders
    msg = EmailMessage(policy=POLICY)
    msg["From"] = Address(display_name=envelope.from_name, addr_spec=envelope.from_address)
    msg["To"] = Address(display_name=recipient.name, addr_spec=recipient.email)
    if envelope.reply_to:
        msg["Reply-To"] = envelope.reply_to
    msg["Subject"] = fill(email.subject, tokens, "header", values)
    msg["Date"] = date or format_datetime(datetime.now(UTC))  # +0000: UTC, not "-0000"
    msg["Message-ID"] = message_id(envelope, recipient)
    domain = envelope.from_address.rpartition("@")[2]
    msg["List-Id"] = f"<{envelope.list_name}.{domain}>"
    msg["List-Unsubscribe"] = list_unsubscribe(envelope, recipient)
    msg["List-Unsubscribe-Post"] = ONE_CLICK
    msg["X-Digest-Issue"] = envelope.issue_key
    msg.set_content(
        fill(email.text, tokens, "text", values),
        subtype="plain",
        charset="utf-8",
        cte="quoted-printable",
    )
    msg.add_alternative(
        fill(email.html, tokens, "html", values),
        subtype="html",
        charset="utf-8",
        cte="quoted-printable",
    )
    return msg
