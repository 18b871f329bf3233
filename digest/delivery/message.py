"""Build one RFC 5322 message for one recipient from an envelope."""

from __future__ import annotations

import hashlib
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from html import escape

from ..models import Envelope, Recipient
from ..render import PLACEHOLDERS, fill


def substitutions(recipient: Recipient) -> dict[str, str]:
    """Placeholder → value for one recipient, HTML-escaped where it lands in HTML."""
    return {
        PLACEHOLDERS.email_html: escape(recipient.email),
        PLACEHOLDERS.email: recipient.email,
        PLACEHOLDERS.name_html: escape(recipient.name),
        PLACEHOLDERS.name: recipient.name,
        PLACEHOLDERS.unsubscribe_url: recipient.unsubscribe_url,
        PLACEHOLDERS.preferences_url: recipient.preferences_url,
    }


def list_unsubscribe(envelope: Envelope, recipient: Recipient) -> str:
    """The ``List-Unsubscribe`` value: the https URL, plus a mailto when configured."""
    value = f"<{recipient.unsubscribe_url}>"
    if envelope.unsubscribe_mailto:
        value += f", <mailto:{envelope.unsubscribe_mailto}?subject=unsubscribe>"
    return value


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
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Digest-Issue"] = envelope.issue_key
    msg.set_content(
        fill(email.text, values), subtype="plain", charset="utf-8", cte="quoted-printable"
    )
    msg.add_alternative(
        fill(email.html, values), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    return msg
