"""``POST /webhooks/sendgrid``: the signed Event Webhook, turned into suppressions and stats.

Nothing in a request is parsed before it is bounded: the headers by format and length before
the signature check, the body by size, and its JSON by nesting depth before ``json.loads``.
Whatever is sent, the answer is 2xx, 400, 403, 413 or 503, never a server error.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..config import Settings
from ..errors import ConfigError
from ..roster import normalize_email
from ..store.events import ProviderEvent
from .context import TooLarge, read_body, web_of

log = logging.getLogger(__name__)
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
SUPPRESSING = {"spamreport": "complained", "unsubscribe": "unsubscribed"}
SUPPRESSING["group_unsubscribe"] = "unsubscribed"
DROPPED = {
    "bounced address": "bounced",
    "invalid": "bounced",
    "invalid address": "bounced",
    "spam reporting address": "complained",
    "unsubscribed address": "unsubscribed",
}
"""``dropped`` reasons that mean the address itself must get no more mail."""
TIMESTAMP_FORMAT = re.compile(r"[0-9]{1,12}")
SIGNATURE_FORMAT = re.compile(r"[A-Za-z0-9+/]{1,200}={0,2}")
"""Base64 of a DER ECDSA P-256 signature is at most 96 characters; 200 leaves room."""
MAX_DEPTH = 16
"""SendGrid's events are objects in one array, with lists and objects of custom args inside."""
MAX_UNIX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z
MAX_ISSUE_ID = 2**63 - 1
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def public_key(settings: Settings) -> Any:
    """The verification key from ``[web]`` or its environment variable; None when unset."""
    web = settings.web
    text = web.sendgrid_public_key or os.environ.get(web.sendgrid_public_key_env, "")
    if not text.strip():
        log.warning("no SendGrid webhook key configured: /webhooks/sendgrid answers 503")
        return None
    try:
        return EventWebhook().convert_public_key_to_ecdsa(text.strip())
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"the SendGrid webhook public key is not a valid EC key: {exc}",
            subject="web.sendgrid_public_key",
            hint="paste the Verification Key shown in SendGrid's Mail Settings",
        ) from None


def _text(
    item: dict[str, Any], key: str, where: str, required: bool = False, most: int = 2000
) -> str | None:
    """A string field of an event, of at most ``most`` characters (its column's size)."""
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > most:
        raise ValueError(f"{where}: {key!r} must be a non-empty string of at most {most}")
    return value


def _whole(value: Any, most: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


def nesting(text: str) -> int:
    """How deeply arrays and objects nest in JSON ``text`` (brackets in strings not counted)."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def classify(item: Any, where: str, now: datetime) -> ProviderEvent:
    """One webhook event checked and classified; ValueError if it is malformed."""
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object")
    kind = _text(item, "event", where, required=True, most=50)
    event_id = _text(item, "sg_event_id", where, required=True, most=200)
    raw_email = _text(item, "email", where, required=True, most=320)
    assert kind and event_id and raw_email
    try:
        email = normalize_email(raw_email)
    except ValueError:
        email = raw_email.strip().lower()
    stamp = item.get("timestamp")
    if stamp is not None and not _whole(stamp, MAX_UNIX_TIME):
        raise ValueError(f"{where}: 'timestamp' must be a Unix time")
    issue = item.get("issue_id")
    if isinstance(issue, str) and issue.isascii() and issue.isdigit() and len(issue) <= 19:
        issue = int(issue)
    if issue is not None and not _whole(issue, MAX_ISSUE_ID):
        raise ValueError(f"{where}: 'issue_id' must be an issue number")
    reason = (_text(item, "reason", where) or _text(item, "status", where) or "").strip()
    suppress = None
    if kind == "bounce" and item.get("type", "bounce") == "bounce":
        suppress = "bounced"
    elif kind == "dropped":
        suppress = DROPPED.get(reason.lower())
    elif kind in SUPPRESSING:
        suppress = SUPPRESSING[kind]
    return ProviderEvent(
        event_id=event_id,
        kind=kind,
        email=email,
        at=datetime.fromtimestamp(stamp, UTC) if stamp is not None else now,
        list_name=_text(item, "list", where, most=200),
        issue_id=int(issue) if issue is not None else None,
        suppress=suppress,
        detail=f"sendgrid {kind}" + (f": {reason}" if reason else ""),
    )


def parse_events(text: str, now: datetime) -> list[ProviderEvent]:
    """The events of a webhook body; ValueError naming the first problem."""
    if nesting(text) > MAX_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    except (ValueError, RecursionError):  # e.g. a number of more than 4,300 digits
        raise ValueError("not JSON that can be read") from None
    if not isinstance(data, list):
        raise ValueError("expected a JSON array of events")
    return [classify(item, f"event {i}", now) for i, item in enumerate(data)]


def _refuse(status: int, error: str) -> Response:
    return JSONResponse({"error": error}, status_code=status)


async def sendgrid(request: Request) -> Response:
    web = web_of(request)
    if web.webhook_key is None:
        return _refuse(503, "webhook verification key not configured")
    signature = request.headers.get(SIGNATURE, "")
    timestamp = request.headers.get(TIMESTAMP, "")
    if not signature or not timestamp:
        return _refuse(403, "missing signature")
    if not TIMESTAMP_FORMAT.fullmatch(timestamp):
        return _refuse(400, f"{TIMESTAMP} must be a Unix time of at most 12 digits")
    if not SIGNATURE_FORMAT.fullmatch(signature):
        return _refuse(400, f"{SIGNATURE} must be base64 of at most 200 characters")
    now = web.clock()
    if abs(now.timestamp() - int(timestamp)) > web.settings.web.max_age_seconds:
        log.warning("rejected a SendGrid webhook with a stale timestamp %s", timestamp)
        return _refuse(403, "stale timestamp")
    try:
        body = await read_body(request, web.settings.web.max_body_bytes)
    except TooLarge:
        return _refuse(413, "body too large")
    try:
        text = body.decode("utf-8")
        genuine = EventWebhook().verify_signature(text, signature, timestamp, web.webhook_key)
    except (ValueError, TypeError):
        genuine = False
    if not genuine:
        log.warning("rejected a SendGrid webhook with a bad signature")
        return _refuse(403, "bad signature")
    try:
        events = await run_in_threadpool(parse_events, text, now)
    except ValueError as exc:
        return _refuse(400, str(exc))
    counts = await run_in_threadpool(web.events.apply, events, "sendgrid", now)
    stats = {k: counts.get(k, 0) for k in ("suppressed", "stats", "duplicate", "unmatched")}
    return JSONResponse({"received": len(events), **stats})
