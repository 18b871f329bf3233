"""The SMTP backend against a real aiosmtpd server: reuse, 4xx/5xx, dropped connections, TLS."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from digest.config.load import load_settings
from digest.pipeline import Pipeline

from .delivery_helpers import SIGNING_KEY, use_backend, write_roster
from .email_helpers import TOKEN

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
READY = 120.0
"""How long the relay's thread may take to start (aiosmtpd waits 5 s; a busy machine, more)."""


class Relay:
    """An aiosmtpd handler that records messages and misbehaves for chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.received: Counter[str] = Counter()
        self.sessions = 0
        self.rcpt_reply: dict[str, list[str]] = {}
        """Address → replies to give to RCPT, one per attempt ("drop" closes the connection)."""
        self.drop_after_data: set[str] = set()
        self.lock = threading.Lock()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        with self.lock:
            self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        replies = self.rcpt_reply.get(address)
        if replies:
            reply = replies.pop(0)
            if reply == "drop":
                server.transport.close()
                return "421 going away"
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt] += 1
                self.messages.append((rcpt, envelope.content))
        if set(envelope.rcpt_tos) & self.drop_after_data:
            server.transport.close()
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def relay() -> Iterator[tuple[Relay, int]]:
    handler = Relay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=READY)
    controller.start()
    yield handler, controller.port
    controller.stop()


def pipeline(project: Path, port: int, monkeypatch: pytest.MonkeyPatch, **opts: Any) -> Pipeline:
    monkeypatch.setenv("DIGEST_SIGNING_KEY", SIGNING_KEY)
    monkeypatch.delenv("SMTP_USERNAME", raising=False)
    base = {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 120.0}
    base |= {"backoff": 0.001, "backoff_max": 0.01}
    p = Pipeline(load_settings(use_backend(project, "smtp", **(base | opts))), clock=lambda: NOW)
    p.collect()
    return p


def test_each_subscriber_gets_one_message_over_reused_connections(
    project: Path, relay: tuple[Relay, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = relay
    emails = write_roster(project, 40)
    report = pipeline(project, port, monkeypatch, workers=2, batch_size=10).send("weekly")
    assert report.counts == {"accepted": 40}
    assert sorted(server.received) == emails and set(server.received.values()) == {1}
    assert server.sessions <= 2  # one connection per worker, kept across chunks
    rcpt, raw = server.messages[0]
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["To"].addresses[0].addr_spec == rcpt
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",))
    assert text is not None and not TOKEN.search(text.get_content())


def test_4xx_is_retried_later_and_5xx_fails_that_recipient(
    project: Path, relay: tuple[Relay, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = relay
    emails = write_roster(project, 12)
    server.rcpt_reply[emails[2]] = ["451 4.7.1 try later", "452 still busy"]
    server.rcpt_reply[emails[5]] = ["550 5.1.1 no such user"]
    report = pipeline(project, port, monkeypatch, batch_size=5, workers=1).send("weekly")
    assert report.counts == {"accepted": 11, "failed": 1}
    assert report.failures == (("SMTP 550: 5.1.1 no such user", 1),)
    assert server.received[emails[2]] == 1 and emails[5] not in server.received


def test_a_connection_dropped_mid_session_is_reopened_and_nothing_doubles(
    project: Path, relay: tuple[Relay, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = relay
    emails = write_roster(project, 10)
    server.rcpt_reply[emails[3]] = ["drop"]
    report = pipeline(project, port, monkeypatch, workers=1).send("weekly")
    assert report.counts == {"accepted": 10}
    assert set(server.received.values()) == {1} and len(server.received) == 10
    assert server.sessions == 2


def test_a_drop_after_the_message_went_out_is_unknown_not_resent(
    project: Path, relay: tuple[Relay, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, port = relay
    emails = write_roster(project, 6)
    server.drop_after_data.add(emails[1])
    p = pipeline(project, port, monkeypatch, workers=1)
    report = p.send("weekly")
    assert report.outcome == "unknown"
    assert report.counts == {"accepted": 5, "unknown": 1}
    assert p.resume("weekly")[0].counts == {"accepted": 5, "unknown": 1}
    assert set(server.received.values()) == {1}


def test_starttls_with_credentials_from_the_environment(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[str, bytes]] = []

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        logins.append((data.login.decode(), data.password))
        return AuthResult(success=data.password == b"s3cret")

    handler = Relay()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), tls_context=context,
        require_starttls=True, authenticator=authenticate, auth_require_tls=True,
        ready_timeout=READY,
    )  # fmt: skip
    controller.start()
    try:
        write_roster(project, 3)
        p = pipeline(project, controller.port, monkeypatch, security="starttls", ca_file=str(cert))
        monkeypatch.setenv("SMTP_USERNAME", "digest")
        monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
        assert p.send("weekly").counts == {"accepted": 3}
    finally:
        controller.stop()
    assert logins and logins[0] == ("digest", b"s3cret")
    assert len(handler.received) == 3
