"""The ``sendgrid`` backend: v3 Mail Send through the official library, one client per thread."""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from ..errors import ConfigError
from ..models import DeliveryResult, Envelope, Recipient
from ..placeholders import ESCAPE, FIELDS, respell, used
from .base import SendAborted
from .message import ONE_CLICK, mailto_suffix, recipient_values
from .options import SendGridOptions
from .pacing import PacedBackend, backoff

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)
# The HTTP client logs request headers (the API key) and whole bodies at DEBUG: never let it.
logging.getLogger("python_http_client").setLevel(logging.INFO)

MAX_PERSONALIZATION = 10_000
"""SendGrid's limit on one personalization's substitutions and custom args, in bytes."""
FATAL = (401, 403)
"""Answers that every later chunk would get too: stop the send, the chunk planned again."""


def _to(email: str, name: str) -> dict[str, str]:
    if not name:
        return {"email": email}
    if "\r" in name or "\n" in name:
        name = name.replace("\r", " ").replace("\n", " ")
    name = name.strip()
    if not name:
        return {"email": email}
    # As the official helper does: a name holding a comma or semicolon must be quoted.
    return {"email": email, "name": f'"{name}"' if ("," in name or ";" in name) else name}


def used_placeholders(envelope: Envelope) -> dict[str, set[str]]:
    """By part (subject, text, HTML): the placeholder fields the rendering holds there."""
    email, tokens = envelope.email, envelope.email.placeholders
    return {
        "header": used(email.subject, tokens),
        "text": used(email.text, tokens),
        "html": used(email.html, tokens),
    }


def substituter(envelope: Envelope) -> Callable[[Recipient], dict[str, str]]:
    """A recipient's substitutions: one key per field and part, its value escaped for the part.

    SendGrid substitutes the same key in subject and bodies alike, so each part's tokens are
    spelled apart (``respell``) and the HTML ones get HTML-escaped values.
    """
    tokens = envelope.email.placeholders
    pairs = [
        (tokens.token(field, part), FIELDS[field], ESCAPE[part])
        for part, fields in used_placeholders(envelope).items()
        for field in sorted(fields)
    ]

    def values(rcpt: Recipient) -> dict[str, str]:
        raw = recipient_values(rcpt)
        return {key: escape(raw[source]) for key, source, escape in pairs}

    return values


def custom_args(envelope: Envelope) -> dict[str, str]:
    """Tags webhook events can be matched by: issue, list, chunk (and segment, if any)."""
    args = {"issue_id": str(envelope.issue_id), "list": envelope.list_name, "chunk": envelope.chunk}
    if envelope.segment:
        args["segment"] = envelope.segment
    return args


def request_body(
    envelope: Envelope, recipients: Sequence[Recipient], options: SendGridOptions
) -> tuple[dict[str, Any], list[Recipient], list[DeliveryResult]]:
    """The Mail Send body, the recipients it holds, and results for those it had to leave out."""
    personalizations: list[dict[str, Any]] = []
    included: list[Recipient] = []
    left_out: list[DeliveryResult] = []
    seen: set[str] = set()
    args = custom_args(envelope)
    values = substituter(envelope)
    mailto = mailto_suffix(envelope)
    for rcpt in recipients:  # the hot loop of a send: one pass per recipient, kept lean
        address, name = rcpt.email, rcpt.name
        key = address.casefold()
        if key in seen:  # each address once per request: send it in a later one
            left_out.append(DeliveryResult(rcpt.subscriber_id, "retry", error="duplicate address"))
            continue
        item = {
            "to": [_to(address, name)],
            "substitutions": values(rcpt),
            "headers": {
                "List-Unsubscribe": f"<{rcpt.unsubscribe_url}>{mailto}",
                "List-Unsubscribe-Post": ONE_CLICK,
            },
            "custom_args": args,
        }
        if len(name) + len(address) > 1000:
            size = len(json.dumps(item["substitutions"]).encode()) + len(json.dumps(args).encode())
            if size >= MAX_PERSONALIZATION:
                left_out.append(
                    DeliveryResult(rcpt.subscriber_id, "failed", error="personalization over 10 KB")
                )
                continue
        seen.add(key)
        personalizations.append(item)
        included.append(rcpt)
    email, tokens = envelope.email, envelope.email.placeholders
    body: dict[str, Any] = {
        "personalizations": personalizations,
        "from": {"email": envelope.from_address, "name": envelope.from_name},
        "subject": respell(email.subject, tokens, "header"),
        "content": [
            {"type": "text/plain", "value": respell(email.text, tokens, "text")},
            {"type": "text/html", "value": respell(email.html, tokens, "html")},
        ],
        "categories": list(dict.fromkeys(c[:255] for c in envelope.categories))[:10],
        "headers": {"X-Digest-Issue": envelope.issue_key},
    }
    if envelope.reply_to:
        body["reply_to"] = {"email": envelope.reply_to}
    if options.asm_group_id is not None:
        body["asm"] = {"group_id": options.asm_group_id}
    if options.sandbox_mode:
        body["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return body, included, left_out


def sendgrid_errors(exc: HTTPError) -> str:
    """SendGrid's ``errors[].message`` and ``field``, as one line."""
    try:
        errors = json.loads(exc.body or b"{}").get("errors") or []
        parts = [
            str(e.get("message", "")) + (f" (field: {e['field']})" if e.get("field") else "")
            for e in errors
            if isinstance(e, dict)
        ]
    except (ValueError, AttributeError):
        parts = []
    return f"SendGrid {exc.status_code}: " + ("; ".join(parts) or str(exc.reason or "error"))


class SendGridBackend(PacedBackend):
    """Delivers a chunk as one Mail Send request; never resends one that may have gone out."""

    name = "sendgrid"
    idempotent = False

    def __init__(
        self,
        options: SendGridOptions,
        api_key: str,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ):
        super().__init__(options, options.batch_size)
        self.options = options
        self.api_key = api_key
        self.sleep = sleep
        self.now = now
        self._local = threading.local()

    def client(self) -> SendGridAPIClient:
        """This thread's own client: the library shares header state between calls."""
        client: SendGridAPIClient | None = getattr(self._local, "client", None)
        if client is None:
            client = SendGridAPIClient(api_key=self.api_key, host=self.options.host.rstrip("/"))
            client.client.timeout = self.options.timeout
            self._local.client = client
        return client

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        body, included, results = request_body(envelope, recipients, self.options)
        if included:
            results.extend(self._post(body, [r.subscriber_id for r in included]))
        return results

    def _post(self, body: dict[str, Any], ids: list[int]) -> list[DeliveryResult]:
        o = self.options
        attempt = 0
        while True:
            wait: float | None = None
            try:
                response = self.client().client.mail.send.post(request_body=body)
            except HTTPError as exc:
                status = int(exc.status_code)
                if status == 429:
                    wait = self._reset_wait(exc, attempt)
                    why = "rate limited (429)"
                elif status >= 500:
                    wait = backoff(attempt, o.backoff, o.backoff_max)
                    why = f"SendGrid {status}"
                else:
                    error = sendgrid_errors(exc)
                    if status in FATAL:
                        raise SendAborted(
                            f"the sendgrid backend was refused: {error}",
                            [DeliveryResult(i, "retry", error=error) for i in ids],
                            subject="delivery.sendgrid",
                            hint=f"check the API key in ${o.api_key_env} (it needs the Mail "
                            "Send permission); nothing was marked failed: send again to resume",
                        ) from None
                    log.error("chunk of %d failed: %s", len(ids), error)
                    return [DeliveryResult(i, "failed", error=error) for i in ids]
            except URLError as exc:
                # urllib raises URLError only while connecting or sending the request: the
                # whole body never reached SendGrid, so it cannot have been accepted. Retrying
                # is safe (a timeout or reset while waiting for the answer is not: below).
                wait = backoff(attempt, o.backoff, o.backoff_max)
                refused = isinstance(exc.reason, ConnectionRefusedError)
                why = "connection refused" if refused else f"could not send: {exc.reason}"
            except (OSError, http.client.HTTPException) as exc:
                return self._unknown(ids, f"no answer after sending: {exc!r}")
            else:
                message_id = response.headers.get("X-Message-Id")
                return [DeliveryResult(i, "accepted", message_id) for i in ids]
            if attempt >= o.max_retries:
                log.warning("%s: giving up on this chunk for now after %d tries", why, attempt + 1)
                return [DeliveryResult(i, "retry", error=why) for i in ids]
            log.info("%s: retrying in %.2fs", why, wait)
            self.sleep(wait)
            attempt += 1

    def _reset_wait(self, exc: HTTPError, attempt: int) -> float:
        o = self.options
        headers = exc.headers or {}
        reset = headers.get("X-RateLimit-Reset")
        try:
            wait = float(reset) - self.now() if reset is not None else None
        except ValueError:
            wait = None
        if wait is None:
            return backoff(attempt, o.backoff, o.backoff_max)
        return min(max(wait, 0.0), o.backoff_max)

    def _unknown(self, ids: list[int], why: str) -> list[DeliveryResult]:
        log.error("chunk of %d may or may not have been sent: %s", len(ids), why)
        return [DeliveryResult(i, "unknown", error=why) for i in ids]

    def close(self) -> None:
        """Clients hold no connections between requests."""


def make_sendgrid(settings: Settings) -> SendGridBackend:
    """Factory registered for ``backend = "sendgrid"``: the key comes from the environment."""
    options: SendGridOptions = settings.delivery.options("sendgrid")
    key = os.environ.get(options.api_key_env, "")
    if not key:
        raise ConfigError(
            f"${options.api_key_env} is not set",
            subject=options.api_key_env,
            hint="export the key in the variable named by [delivery.sendgrid] api_key_env",
        )
    return SendGridBackend(options, key)
