"""The main job, phase by phase: collect → build (summarize, group, render) → send."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from . import registry
from .build import Builder, BuiltIssue
from .collect import CollectReport, collect
from .config import Settings
from .delivery.base import DeliveryBackend
from .models import StoredPost
from .send import Sender, SendReport, sync_roster
from .store import Store
from .tokens import Signer

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one ``digest run`` did."""

    collected: CollectReport
    sends: tuple[SendReport, ...]


class Pipeline:
    """Wires settings, store, builder and backend together for the CLI and the scheduler."""

    def __init__(self, settings: Settings, store: Store | None = None, clock: Clock = utcnow):
        self.settings = settings
        self.store = store or Store(settings.database.url)
        self.clock = clock
        self.builder = Builder(settings)

    def collect(self) -> CollectReport:
        return collect(self.settings, self.store, self.clock())

    def build(self, list_name: str, at: datetime | None = None) -> BuiltIssue:
        """The list's issue for the period holding ``at`` (default: now)."""
        return self.builder.build(self.store, list_name, self.clock(), at)

    def candidates(self, list_name: str) -> list[StoredPost]:
        """The posts the list's coming issue would hold, before editors' exclusions."""
        built = self.build(list_name)
        if built.stored is not None:
            return self.store.posts.by_ids(self.store.issues.post_ids(built.stored.id))
        lst = self.settings.list(list_name)
        list_id = self.store.subscribers.list_id(lst.name)
        previous = self.store.issues.latest(list_id)
        return self.store.posts.for_issue(
            list_id, built.window, previous.created_at if previous else None
        )

    def issue_posts(self, list_name: str, number: int) -> list[StoredPost]:
        """The posts of a list's stored issue ``number``."""
        list_id = self.store.subscribers.list_id(self.settings.list(list_name).name)
        issue = self.store.issues.by_number(list_id, number)
        return self.store.posts.by_ids(self.store.issues.post_ids(issue.id))

    def backend(self, name: str | None = None) -> DeliveryBackend:
        kind = registry.delivery_backends()[name or self.settings.delivery.backend]
        return kind.factory(self.settings)

    def signer(self, backend: DeliveryBackend) -> Signer:
        signer = Signer.from_env(
            self.settings.newsletter.signing_key_env, allow_ephemeral=backend.name == "outbox"
        )
        if signer.ephemeral:
            log.warning(
                "$%s is not set: unsubscribe links use a one-off key and will not verify later",
                self.settings.newsletter.signing_key_env,
            )
        return signer

    def send(
        self, list_name: str, *, dry_run: bool = False, at: datetime | None = None
    ) -> SendReport:
        """Send the list's issue for the period holding ``at`` (default: now), or resume it.

        Never twice: a period's issue is stored before its first message goes out.
        """
        now = self.clock()
        _, problems = sync_roster(self.settings, self.store, list_name, now)
        built = self.build(list_name, at)
        base = SendReport(
            built.list_name, "", issue_number=built.digest.number, roster_problems=problems
        )
        if built.stored is not None and built.stored.status == "sent":
            counts = self.store.issues.counts(built.stored.id)
            return replace(base, outcome="already-sent", issue_key=built.stored.key, counts=counts)
        if built.stored is None and not built.digest.posts:
            return replace(base, outcome="no-posts")
        if dry_run:
            recipients = self.store.subscribers.count_active(built.list_id)
            return replace(base, outcome="dry-run", recipients=recipients)
        backend = self.backend()
        try:
            sender = Sender(self.settings, self.store, backend, self.signer(backend), self.clock)
            issue = sender.freeze(built)
            counts = sender.deliver(issue, built.list_name)
        finally:
            backend.close()
        pending = counts.get("planned", 0) + counts.get("submitted", 0)
        folder = getattr(backend, "folder", None)
        return replace(
            base,
            outcome="incomplete" if pending else "sent",
            issue_key=issue.key,
            counts=counts,
            recipients=sum(counts.values()),
            destination=str(folder(sender.envelope(issue, built.list_name))) if folder else None,
        )

    def run(self) -> RunReport:
        """The main job: collect, then send every list whose current issue is not sent."""
        collected = self.collect()
        sends = tuple(self.send(lst.name) for lst in self.settings.lists)
        return RunReport(collected, sends)

    def close(self) -> None:
        self.store.close()
