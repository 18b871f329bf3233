"""Done-when: deliver, one-click unsubscribe from the header's URL, next issue skips them."""

from __future__ import annotations

import email
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from digest.config.load import load_settings
from digest.delivery.outbox import OutboxBackend
from digest.models import DeliveryResult, Envelope, Recipient
from digest.pipeline import Pipeline
from digest.store import Store
from digest.tokens import Signer, TokenClaims
from digest.web import create_app

from . import web_client
from .cli_helpers import cli_env, run_digest
from .conftest import needs_shared
from .web_setup import sign_webhook, webhook_keys

KEY = "end-to-end-signing-key-0123456789abcdef"
BEN = "ben.carter@example.com"
DEV = "dev.patel@example.org"
NEW_POST = """---
title: A New Week in Arms Control
author: Sam Rivera
areas: Security
url: https://blogs.example.org/new-week-arms-control/
---

Negotiators met again this week to discuss verification of the new arms control framework.
Both delegations described the talks as constructive, and agreed to meet again next month.
"""


def digest(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_digest(project, *args, env=cli_env(DIGEST_SIGNING_KEY=KEY), timeout=180)


def delivered(project: Path) -> dict[str, list[EmailMessage]]:
    """Messages in the outbox by issue folder."""
    out: dict[str, list[EmailMessage]] = {}
    for f in sorted((project / "outbox").glob("weekly/*/*.eml")):
        msg = email.message_from_bytes(f.read_bytes(), policy=policy.default)
        out.setdefault(f.parent.name, []).append(msg)
    return out


def recipient(msg: EmailMessage) -> str:
    return str(msg["To"].addresses[0].addr_spec)


def test_one_click_unsubscribe_and_a_bounce_stop_the_next_issue(
    project: Path,
    live_server: Callable[[Any], str],
    edit_config: Callable[[str, str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_shared()
    private, public = webhook_keys()
    config = project / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + f'\n[web]\nsendgrid_public_key = "{public}"\n',
        encoding="utf-8",
    )
    # 1) digest run delivers to the outbox
    first = digest(project, "run")
    assert first.returncode == 0, first.stderr
    [(issue_one, sent)] = delivered(project).items()
    assert BEN in {recipient(m) for m in sent} and DEV in {recipient(m) for m in sent}

    monkeypatch.setenv("DIGEST_SIGNING_KEY", KEY)
    settings = load_settings(config)
    store = Store(settings.database.url)
    server = live_server(create_app(settings, store))

    # 2) a one-click POST to the List-Unsubscribe URL of Ben's message answers 200
    ben_msg = next(m for m in sent if recipient(m) == BEN)
    header = str(ben_msg["List-Unsubscribe"])
    url = header.split(",")[0].strip().strip("<>")
    assert url.startswith(settings.newsletter.base_url)
    assert ben_msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    r = web_client.post(
        server + urlsplit(url).path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 200

    # a signed SendGrid bounce for Dev suppresses Dev
    body = f'[{{"event":"bounce","type":"bounce","email":"{DEV}","sg_event_id":"e2e-1"}}]'.encode()
    hook = web_client.post(
        f"{server}/webhooks/sendgrid",
        content=body,
        headers=sign_webhook(private, body, datetime.now(UTC)),
    )
    assert hook.status_code == 200 and hook.json()["suppressed"] == 1

    # 3) the next issue is not delivered to them: a new period (hourly at :07) with a new post
    edit_config(r'^schedule = "0 7 \* \* 1".*$', 'schedule = "7 * * * *"')
    (project / "posts" / "new-week-arms-control.md").write_text(NEW_POST, encoding="utf-8")
    second = digest(project, "run")
    assert second.returncode == 0, second.stderr
    issues = delivered(project)
    assert len(issues) == 2, second.stdout
    [next_issue] = [msgs for key, msgs in issues.items() if key != issue_one]
    to = {recipient(m) for m in next_issue}
    assert BEN not in to and DEV not in to
    assert to == {recipient(m) for m in sent} - {BEN, DEV}
    assert "unsubscribed" in digest(project, "subscribers", "export").stdout


class UnsubscribeMidway(OutboxBackend):
    """The real outbox, two messages at a time; a reader unsubscribes after the first chunk."""

    max_batch = 2

    def __init__(self, path: Path, on_first: Callable[[Envelope], None]):
        super().__init__(path)
        self.on_first: Callable[[Envelope], None] | None = on_first

    def deliver(self, envelope: Envelope, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        results = super().deliver(envelope, recipients)
        if self.on_first is not None:
            hook, self.on_first = self.on_first, None
            hook(envelope)
        return results


def test_an_unsubscribe_during_a_send_skips_the_unsent_chunks(
    project: Path, live_server: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SIGNING_KEY", KEY)
    settings = load_settings(project / "config.toml")
    store = Store(settings.database.url)
    server = live_server(create_app(settings, store))
    last = "grace.lee@example.net"

    def unsubscribe_last(envelope: Envelope) -> None:
        list_id = store.subscribers.find_list("weekly")
        assert list_id is not None
        row = store.subscribers.find(list_id, last)
        assert row is not None
        token = Signer(KEY.encode()).sign(TokenClaims("weekly", row.id, envelope.issue_id))
        r = web_client.post(f"{server}/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 200

    pipeline = Pipeline(settings, store)
    pipeline.collect()
    backend = UnsubscribeMidway(project / "outbox", unsubscribe_last)
    monkeypatch.setattr(pipeline, "backend", lambda name=None: backend)
    report = pipeline.send("weekly")
    assert report.counts.get("suppressed") == 1
    to = {recipient(m) for msgs in delivered(project).values() for m in msgs}
    assert last not in to and len(to) == report.counts["accepted"] == 5
