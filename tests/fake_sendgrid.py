"""A local SendGrid v3 Mail Send server: validates bodies against the official OpenAPI spec.

A real threaded HTTP server on 127.0.0.1. It checks the Bearer key, validates each body
(``../shared/specs/sendgrid-mail-v3.json`` plus the documented limits), answers 202 with an
``X-Message-Id`` and records every recipient it accepted. Scripted actions make it answer 429,
500 or 400, hang, drop the connection after reading the body, or SIGKILL a client process at a
chosen point. ``python -m tests.fake_sendgrid`` runs it on its own (for the benchmark).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT.parent / "shared" / "specs" / "sendgrid-mail-v3.json"
BODY_POINTER = "#/components/requestBodies/PostMailSend/content/application~1json/schema"
MAX_BODY = 30 * 1024 * 1024
MAX_RECIPIENTS = 1000
MAX_PERSONALIZATION = 10_000
RESERVED_HEADERS = {
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
    "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc",
}  # fmt: skip


@dataclass(frozen=True)
class Action:
    """What the server does with one request instead of accepting it normally.

    ``kind``: ``ok``, ``429``, ``500``, ``400``, ``hang``, ``drop``, ``kill-before`` (on the
    request line, before reading the body), ``kill-after`` (after recording it, before
    answering) or ``kill-after-response``.
    """

    kind: str = "ok"
    reset_in: float | None = 0.0
    """For 429: seconds until ``X-RateLimit-Reset`` (None: leave the header out)."""
    errors: tuple[dict[str, Any], ...] = ({"message": "scripted failure", "field": None},)


@dataclass
class Request:
    """One request the server accepted."""

    number: int
    message_id: str
    emails: list[str]
    chunks: set[str]
    body: dict[str, Any] = field(repr=False)


def spec_validator() -> Any:
    """A jsonschema validator for the Mail Send body, with the spec's ``$ref``s resolved."""
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    if not SPEC.exists():  # only under pytest: the benchmark runs the fake without validation
        from .conftest import needs_shared

        needs_shared(SPEC)
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        "urn:sendgrid-mail-v3", Resource.from_contents(spec, default_specification=DRAFT4)
    )
    schema = {"$ref": f"urn:sendgrid-mail-v3{BODY_POINTER}"}
    return Draft4Validator(schema, registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER)


def limit_violations(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(message, field) for each documented limit the body breaks that the schema cannot say."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    total = 0
    for i, p in enumerate(body.get("personalizations") or []):
        where = f"personalizations.{i}"
        if not p.get("to"):
            problems.append(("at least one 'to' address is required", f"{where}.to"))
        for kind in ("to", "cc", "bcc"):
            for addr in p.get(kind) or []:
                total += 1
                key = str(addr.get("email", "")).casefold()
                if key in seen:
                    problems.append((f"duplicate address {key}", f"{where}.{kind}"))
                seen.add(key)
        for part in ("substitutions", "custom_args"):
            if len(json.dumps(p.get(part) or {}).encode()) > MAX_PERSONALIZATION:
                problems.append((f"{part} over 10,000 bytes", f"{where}.{part}"))
        for key, value in (p.get("custom_args") or {}).items():
            if not isinstance(value, str):
                problems.append((f"custom_args.{key} must be a string", f"{where}.custom_args"))
        for name, value in (p.get("headers") or {}).items():
            if name.lower() in RESERVED_HEADERS or not isinstance(value, str):
                problems.append((f"header {name} is reserved or not a string", f"{where}.headers"))
        if not body.get("subject") and not p.get("subject") and not body.get("template_id"):
            problems.append(("a subject is required", f"{where}.subject"))
    if total > MAX_RECIPIENTS:
        problems.append((f"{total} recipients in one request; at most 1000", "personalizations"))
    types = [c.get("type") for c in body.get("content") or []]
    if "text/plain" in types and types.index("text/plain") != 0:
        problems.append(("text/plain must come first", "content"))
    return problems


class FakeSendGrid:
    """The server and what it saw; use as a context manager."""

    def __init__(
        self,
        api_key: str = "SG.test-key",
        validate: bool = True,
        port: int = 0,
        keep_bodies: bool = True,
    ):
        self.api_key = api_key
        self.validate = validate
        self.keep_bodies = keep_bodies
        self.validator = spec_validator() if validate else None
        self.actions: deque[Action] = deque()
        self.requests: list[Request] = []
        self.received: Counter[str] = Counter()
        self.violations: list[str] = []
        self.answers: Counter[int | str] = Counter()
        self.victim: int | None = None
        self.released = threading.Event()
        self.count = 0
        self.total = 0
        """Recipients accepted, kept as a count so that ``/stats`` stays cheap at a million."""
        self.busy = 0.0
        """Seconds spent handling POSTs, summed over requests (for the benchmark)."""
        self.first_at: float | None = None
        self.last_at: float | None = None
        """Wall-clock times the first POST came in and the last one was answered."""
        self.open = 0
        """Connections accepted and not yet closed by their handler."""
        self.lock = threading.Lock()
        self.closed = threading.Condition(self.lock)
        self.server = _Server(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.fake = self
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeSendGrid:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def script(self, *actions: Action | str) -> None:
        """Queue actions for the next requests, in arrival order; then back to normal."""
        with self.lock:
            self.actions.extend(Action(a) if isinstance(a, str) else a for a in actions)

    def settle(self, timeout: float = 600.0) -> None:
        """Wait until every connection made so far is accepted, handled and closed.

        Call it once the sender is dead, so that nothing new can arrive: then this waits on
        the server's own accept and close, not on a quiet spell of some length.
        """
        import select

        deadline = time.monotonic() + timeout
        with self.closed:
            while True:
                waiting, _, _ = select.select([self.server.socket], [], [], 0)
                if not waiting and self.open == 0:
                    return
                assert time.monotonic() < deadline, "requests still in flight"
                self.closed.wait(0.05)  # the server thread accepts waiting ones by its poll

    def chunks(self) -> set[str]:
        """Every chunk id (``custom_args.chunk``) accepted so far."""
        with self.lock:
            return {c for r in self.requests for c in r.chunks}

    def _next(self) -> tuple[int, Action]:
        with self.lock:
            self.count += 1
            return self.count, (self.actions.popleft() if self.actions else Action())

    def _kill(self) -> None:
        if self.victim is not None:
            os.kill(self.victim, signal.SIGKILL)

    def _record(self, number: int, body: dict[str, Any]) -> str:
        message_id = secrets.token_urlsafe(16)
        emails = [
            str(a.get("email"))
            for p in body.get("personalizations") or []
            for kind in ("to", "cc", "bcc")
            for a in p.get(kind) or []
        ]
        chunks = {
            str(p.get("custom_args", {}).get("chunk")) for p in body.get("personalizations") or []
        }
        with self.lock:
            kept = body if self.keep_bodies else {}
            self.requests.append(Request(number, message_id, emails, chunks, kept))
            self.received.update(emails)
            self.total += len(emails)
        return message_id

    def check(self, body: Any) -> list[tuple[str, str]]:
        """(message, field) for every way the body breaks the spec or the documented limits."""
        if not isinstance(body, dict):
            return [("body must be a JSON object", "")]
        errors = [
            (e.message, ".".join(str(p) for p in e.absolute_path))
            for e in self.validator.iter_errors(body)
        ]
        return errors + limit_violations(body)


class _Server(ThreadingHTTPServer):
    fake: FakeSendGrid

    def get_request(self) -> Any:
        """Accept, and count the connection as open in the same step (``settle`` relies on it)."""
        with self.fake.lock:
            request = super().get_request()
            self.fake.open += 1
            return request

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        with self.fake.lock:
            self.fake.open -= 1
            self.fake.closed.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (killed, timed out) is part of the game: stay quiet."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeSendGrid/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def do_GET(self) -> None:
        fake: FakeSendGrid = self.server.fake  # type: ignore[attr-defined]
        if self.path != "/stats":
            self._answer(404, {"errors": [{"message": "not found", "field": None}]})
            return
        with fake.lock:
            stats = {
                "requests": len(fake.requests),
                "recipients": fake.total,
                "unique": len(fake.received),
                "violations": len(fake.violations),
                "busy_seconds": fake.busy,
                "first_at": fake.first_at,
                "last_at": fake.last_at,
            }
        self._answer(200, stats)

    def do_POST(self) -> None:
        fake: FakeSendGrid = self.server.fake  # type: ignore[attr-defined]
        started, at = time.perf_counter(), time.time()
        try:
            self._post(fake)
        finally:
            with fake.lock:
                fake.busy += time.perf_counter() - started
                fake.first_at = at if fake.first_at is None else min(fake.first_at, at)
                fake.last_at = time.time()

    def _post(self, fake: FakeSendGrid) -> None:
        number, action = fake._next()
        self.close_connection = True
        if action.kind == "kill-before":
            fake._kill()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._answer(413, {"errors": [{"message": "payload too large", "field": None}]})
            return
        raw = self.rfile.read(length)
        if len(raw) < length:
            return  # the client went away mid-body: nothing was sent
        if self.path != "/v3/mail/send":
            self._answer(404, {"errors": [{"message": "not found", "field": None}]})
            return
        if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
            fake.answers[401] += 1
            self._answer(401, {"errors": [{"message": "bad API key", "field": None}]})
            return
        if action.kind in ("429", "500", "400"):
            self._scripted(fake, action)
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._answer(400, {"errors": [{"message": "invalid JSON", "field": None}]})
            return
        if fake.validate:
            problems = fake.check(body)
            if problems:
                with fake.lock:
                    fake.violations.extend(f"{f}: {m}" for m, f in problems)
                fake.answers[400] += 1
                errors = [{"message": m, "field": f or None} for m, f in problems[:20]]
                self._answer(400, {"errors": errors})
                return
        message_id = fake._record(number, body)
        if action.kind in ("drop", "kill-after"):
            fake.answers[action.kind] += 1
            if action.kind == "kill-after":
                fake._kill()
            return
        if action.kind == "hang":
            fake.answers["hang"] += 1
            fake.released.wait(30)
            return
        fake.answers[202] += 1
        self._answer(202, None, {"X-Message-Id": message_id})
        if action.kind == "kill-after-response":
            fake._kill()

    def _scripted(self, fake: FakeSendGrid, action: Action) -> None:
        fake.answers[int(action.kind)] += 1
        if action.kind == "429":
            headers = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"}
            if action.reset_in is not None:
                headers["X-RateLimit-Reset"] = str(int(time.time() + action.reset_in))
            errors = [{"message": "too many requests", "field": None}]
            self._answer(429, {"errors": errors}, headers)
        elif action.kind == "500":
            self._answer(500, {"errors": [{"message": "internal error", "field": None}]})
        else:
            self._answer(400, {"errors": list(action.errors)})


def main() -> None:
    """Serve until killed; print the URL on the first line (for the benchmark)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--key", default="SG.test-key")
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args()
    fake = FakeSendGrid(args.key, validate=not args.no_validate, keep_bodies=False)
    print(fake.url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake.server.serve_forever()


if __name__ == "__main__":
    main()
