"""A project with collected posts and a synced roster, served by ``digest serve``'s app."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import httpx

from digest.config import Settings
from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.store import Store
from digest.subscribers.membership import sync_list as sync_roster
from digest.tokens import Signer
from digest.web import create_app

from .databases import dump

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
EDITORS = ("ed@example.org", "copy.desk@example.org")
TOKEN = "desk-token-7c1e9a40b2d85f36e0a4c9b1d7f2"
KEY = b"desk-tests-signing-key-0123456789abcdef"


@dataclass
class DeskSite:
    """A running desk over a project's store."""

    url: str
    project: Path
    settings: Settings
    store: Store
    pipeline: Pipeline

    @property
    def desk(self) -> str:
        return f"{self.url}/desk"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.desk, timeout=120)

    def csrf(self, client: httpx.Client, list_name: str = "weekly") -> str:
        page = client.get(f"/lists/{list_name}")
        assert page.status_code == 200, page.text
        found = re.search(r'data-csrf="([^"]+)"', page.text)
        assert found
        return found.group(1)

    def post_id(self, title_part: str) -> int:
        return next(p.id for p in self.pipeline.candidates("weekly") if title_part in p.title)

    def outbox(self) -> list[Message]:
        return [
            email.message_from_bytes(path.read_bytes())
            for path in sorted((self.project / "outbox").rglob("*.eml"))
        ]

    def dump(self) -> list[str]:
        """Every row of every table, to compare before and after."""
        return dump(self.settings.database.url)


def open_desk(
    project: Path,
    live_server: Callable[[Any], str],
    *,
    host: str | None = None,
    editors: tuple[str, ...] = EDITORS,
    test_domains: tuple[str, ...] = (),
) -> DeskSite:
    """Collect the project's posts, sync its roster and serve the app (desk at ``/desk``)."""
    config = project / "config.toml"
    listed = ", ".join(f'"{a}"' for a in editors)
    domains = ", ".join(f'"{d}"' for d in test_domains)
    desk = f"\n[desk]\neditors = [{listed}]\ntest_domains = [{domains}]\n"
    config.write_text(config.read_text(encoding="utf-8") + desk, encoding="utf-8")
    settings = load_settings(config)
    store = Store(settings.database.url)
    pipeline = Pipeline(settings, store, clock=lambda: NOW)
    sync_roster(settings, store, "weekly", NOW)
    pipeline.collect()
    app = create_app(settings, store, signer=Signer(KEY), clock=lambda: NOW, host=host)
    return DeskSite(live_server(app), project, settings, store, pipeline)
