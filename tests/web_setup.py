"""A project with a synced roster, a stored issue and a live ``digest serve`` app, for web tests."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from digest.config import Settings
from digest.config.load import load_settings
from digest.store import Store
from digest.store.schema import issues, subscribers, suppressions
from digest.subscribers.roster import read_roster
from digest.tokens import Signer, TokenClaims
from digest.web import create_app

KEY = b"web-tests-signing-key-0123456789abcdef"
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
DAILY = "email,name,areas\nana.ribeiro@example.org,Ana Ribeiro,\nzoe.park@example.org,Zoe Park,\n"


def webhook_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A fresh P-256 key pair; the public half as SendGrid shows it (base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sign_webhook(private: ec.EllipticCurvePrivateKey, body: bytes, at: datetime) -> dict[str, str]:
    """The headers SendGrid sends: an ECDSA signature of ``timestamp + body``."""
    stamp = str(int(at.timestamp()))
    signature = private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        "Content-Type": "application/json",
    }


@dataclass
class Site:
    """A running web app over a project's store."""

    url: str
    settings: Settings
    store: Store
    signer: Signer
    issue_id: int
    old_issue_id: int
    daily_issue_id: int
    webhook_key: ec.EllipticCurvePrivateKey

    def sub_id(self, email: str, list_name: str = "weekly") -> int:
        list_id = self.store.subscribers.find_list(list_name)
        assert list_id is not None
        row = self.store.subscribers.find(list_id, email)
        assert row is not None
        return row.id

    def token(self, email: str, list_name: str = "weekly", issue_id: int | None = None) -> str:
        claims = TokenClaims(list_name, self.sub_id(email, list_name), issue_id or self.issue_id)
        return self.signer.sign(claims)

    def status(self, email: str, list_name: str = "weekly") -> str:
        list_id = self.store.subscribers.find_list(list_name)
        assert list_id is not None
        row = self.store.subscribers.find(list_id, email)
        assert row is not None
        return row.status

    def statuses(self) -> dict[tuple[int, str], str]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(subscribers.c.list_id, subscribers.c.email, subscribers.c.status)
            )
            return {(r[0], r[1]): r[2] for r in rows}

    def suppression_rows(self) -> list[dict[str, Any]]:
        with self.store.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(suppressions)).mappings()]

    def webhook(
        self, events: list[dict[str, Any]], at: datetime = NOW
    ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(events).encode()
        return body, sign_webhook(self.webhook_key, body, at)


def _issue(store: Store, list_id: int, number: int, created: datetime) -> int:
    with store.engine.begin() as conn:
        key = conn.execute(
            issues.insert().values(
                list_id=list_id,
                number=number,
                period_start=created - timedelta(days=7),
                period_end=created,
                status="sent",
                created_at=created,
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def open_site(
    project: Path,
    live_server: Callable[[Any], str],
    *,
    base_url: str = "https://digest.example.org",
    web: str = "",
) -> Site:
    """Sync both lists' rosters, store issues (one fresh, one 400 days old), serve the app."""
    (project / "subscribers" / "daily.csv").write_text(DAILY, encoding="utf-8")
    private, public = webhook_keys()
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8").replace(
        'base_url = "https://digest.example.org"', f'base_url = "{base_url}"'
    )
    text += (
        '\n[[lists]]\nname = "daily"\nsubscribers = "subscribers/daily.csv"\n'
        f'\n[web]\nsendgrid_public_key = "{public}"\nmax_body_bytes = 20000\n{web}\n'
    )
    config.write_text(text, encoding="utf-8")
    settings = load_settings(config)
    store = Store(settings.database.url)
    ids = {}
    for lst in settings.lists:
        list_id = store.subscribers.list_id(lst.name)
        store.subscribers.sync(list_id, read_roster(lst.subscribers).subscribers, NOW)
        ids[lst.name] = list_id
    issue_id = _issue(store, ids["weekly"], 2, NOW - timedelta(days=1))
    old = _issue(store, ids["weekly"], 1, NOW - timedelta(days=400))
    daily = _issue(store, ids["daily"], 1, NOW - timedelta(days=1))
    signer = Signer(KEY)
    app = create_app(settings, store, signer=signer, clock=lambda: NOW)
    url = live_server(app)
    return Site(url, settings, store, signer, issue_id, old, daily, private)
