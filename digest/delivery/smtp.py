"""The ``smtp`` backend: one message per recipient over reused, per-thread connections."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from email.generator import BytesGenerator
from io import BytesIO
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..models import DeliveryResult, Envelope, Recipient
from .base import SendAborted
from .message import build_message, message_id
from .options import SMTPOptions
from .pacing import PacedBackend, backoff
from .reasons import INVALID

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)
_LEADING_DOT = re.compile(rb"(?m)^\.")
DROPPED = (smtplib.SMTPServerDisconnected, ConnectionError, TimeoutError, OSError)


class Unsent(Exception):
    """The connection failed before the message's final dot was sent: safe to try again."""


def wire_bytes(envelope: Envelope, recipient: Recipient) -> bytes:
    """The message as it goes over SMTP: CRLF line ends, dot-stuffed, dot-terminated."""
    buffer = BytesIO()
    BytesGenerator(buffer).flatten(build_message(envelope, recipient), linesep="\r\n")
    data = _LEADING_DOT.sub(b"..", buffer.getvalue())
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def _later(recipients: Sequence[Recipient], why: str) -> list[DeliveryResult]:
    return [DeliveryResult(r.subscriber_id, "retry", error=why) for r in recipients]


def _reply(code: int, text: bytes | str) -> str:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"SMTP {code}: {' '.join(detail.split())}"


class SMTPBackend(PacedBackend):
    """Sends each recipient its own message; a 4xx is retried later, a 5xx fails that one."""

    name = "smtp"
    idempotent = False

    def __init__(
        self,
        options: SMTPOptions,
        username: str | None = None,
        password: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(options, options.batch_size)
        self.options = options
        self.username = username
        self.password = password
        self.sleep = sleep
        self._local = threading.local()
        self._open: list[smtplib.SMTP] = []
        self._lock = threading.Lock()

    def _context(self) -> ssl.SSLContext:
        cafile = str(self.options.ca_file) if self.options.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def _connect(self) -> smtplib.SMTP:
        o = self.options
        conn: smtplib.SMTP
        if o.security == "tls":
            conn = smtplib.SMTP_SSL(o.host, o.port, timeout=o.timeout, context=self._context())
        else:
            conn = smtplib.SMTP(o.host, o.port, timeout=o.timeout)
            if o.security == "starttls":
                conn.starttls(context=self._context())
        if conn.sock is not None:  # each message ends in a small write: don't let Nagle hold it
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.ehlo_or_helo_if_needed()
        if self.username:
            conn.login(self.username, self.password or "")
        with self._lock:
            self._open.append(conn)
        return conn

    def _drop(self, conn: smtplib.SMTP | None) -> None:
        self._local.conn = None
        if conn is None:
            return
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
        with contextlib.suppress(OSError):
            conn.close()

    def connection(self) -> smtplib.SMTP:
        """This thread's connection, opened on first use and kept for later chunks."""
        conn: smtplib.SMTP | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        return self.deliver_each(envelope, recipients, None)

    def deliver_each(
        self,
        envelope: Envelope,
        recipients: Sequence[Recipient],
        step: Callable[[DeliveryResult | None, int | None], None] | None,
    ) -> list[DeliveryResult]:
        """Send each message; before each, ``step`` records the previous outcome and submits it."""
        results: list[DeliveryResult] = []
        for index, rcpt in enumerate(recipients):
            if step is not None:
                step(results[-1] if results else None, rcpt.subscriber_id)
            try:
                results.append(self._one(envelope, rcpt))
            except Unsent as exc:  # could not reach the relay: the rest wait for a later round
                results.extend(_later(recipients[index:], str(exc)))
                break
            except (smtplib.SMTPAuthenticationError, ssl.SSLCertVerificationError) as exc:
                o = self.options
                why = f"SMTP relay refused us: {exc}"
                raise SendAborted(
                    f"the smtp backend was refused: {exc}",
                    results + _later(recipients[index:], why),
                    subject="delivery.smtp",
                    hint=f"check the credentials in ${o.username_env} and ${o.password_env}, "
                    "and the relay's TLS certificate; send again to resume",
                ) from None
        return results

    def _one(self, envelope: Envelope, rcpt: Recipient) -> DeliveryResult:
        """Send one message, reconnecting when the connection drops before it was sent."""
        o = self.options
        try:
            data = wire_bytes(envelope, rcpt)
        except (ValueError, TypeError, UnicodeError) as exc:  # a bad row fails alone
            return DeliveryResult(rcpt.subscriber_id, "failed", error=f"{INVALID}: {exc}")
        for attempt in range(o.max_retries + 1):
            conn = None
            try:
                conn = self.connection()
                return self._transaction(conn, envelope, rcpt, data)
            except (smtplib.SMTPAuthenticationError, ssl.SSLCertVerificationError):
                self._drop(conn)
                raise
            except Unsent as exc:
                self._drop(conn)
                log.info("SMTP connection lost before a message went out (%s); reconnecting", exc)
                if attempt < o.max_retries:
                    self.sleep(backoff(attempt, o.backoff, o.backoff_max))
            except DROPPED as exc:
                self._drop(conn)
                log.info("SMTP connection failed (%r); reconnecting", exc)
                if attempt < o.max_retries:
                    self.sleep(backoff(attempt, o.backoff, o.backoff_max))
        raise Unsent(f"SMTP relay {o.host}:{o.port} unreachable")

    def _transaction(
        self, conn: smtplib.SMTP, envelope: Envelope, rcpt: Recipient, data: bytes
    ) -> DeliveryResult:
        sid = rcpt.subscriber_id
        try:
            code, text = conn.mail(envelope.from_address)
            if code == 250:
                code, text = conn.rcpt(rcpt.email)
            if code not in (250, 251):
                conn.rset()
                status = "failed" if code >= 500 else "retry"
                return DeliveryResult(sid, status, error=_reply(code, text))
            code, text = conn.docmd("data")
            if code != 354:
                conn.rset()
                status = "failed" if code >= 500 else "retry"
                return DeliveryResult(sid, status, error=_reply(code, text))
            conn.send(data)
        except DROPPED as exc:
            raise Unsent(repr(exc)) from None
        try:
            code, text = conn.getreply()
        except DROPPED as exc:  # the whole message went out; only the answer is missing
            self._drop(conn)
            return DeliveryResult(sid, "unknown", error=f"no answer after DATA: {exc!r}")
        if code == 250:
            return DeliveryResult(sid, "accepted", message_id(envelope, rcpt))
        return DeliveryResult(sid, "failed" if code >= 500 else "retry", error=_reply(code, text))

    def close(self) -> None:
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


def make_smtp(settings: Settings) -> SMTPBackend:
    """Factory registered for ``backend = "smtp"``: credentials come from the environment."""
    options: SMTPOptions = settings.delivery.options("smtp")
    username = os.environ.get(options.username_env) or None
    password = os.environ.get(options.password_env) or None
    if username and not password:
        raise ConfigError(
            f"${options.username_env} is set but ${options.password_env} is not",
            subject=options.password_env,
            hint="export both, or neither for a relay without authentication",
        )
    if username and options.security == "none":
        raise ConfigError(
            "refusing to send SMTP credentials without TLS",
            subject="delivery.smtp.security",
            hint='use security = "starttls" or "tls"',
        )
    return SMTPBackend(options, username, password)
