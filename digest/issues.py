"""Freezing an issue: the one way one is stored, editors' approval, and ``build --out`` files."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from .errors import DigestError, FrozenError
from .models import ALL, BuiltIssue, IssueRow
from .store import Store

log = logging.getLogger(__name__)


def store_issue(
    store: Store, built: BuiltIssue, now: datetime, approved_by: str | None = None
) -> IssueRow | None:
    """Freeze ``built`` with all it needs: whole email, every segment's rendering, its posts.

    The one way an issue is stored, whether approved (``approved_by``) or sent straight away;
    None when the period already has an issue.
    """
    return store.issues.create(
        built.list_id,
        built.digest.number,
        built.window,
        built.post_ids,
        built.email,
        now,
        status="approved" if approved_by else "sending",
        approved_by=approved_by,
        segments={s.key: s.email for s in built.segments if s.key != ALL},
        waves=built.waves,
    )


def approve(
    store: Store, built: BuiltIssue, actor: str, now: datetime, *, allow_empty: bool = False
) -> IssueRow:
    """Freeze ``built`` as approved by ``actor``, exactly as previewed, and log the action.

    An issue without posts is refused unless ``allow_empty`` (the list's ``skip_if_empty =
    false``): unapproved, such a period is skipped, so approving it would send "0 posts".
    """
    if built.stored is not None:
        raise DigestError(
            f"issue {built.stored.number} is already {built.stored.status}",
            subject=f"list {built.list_name}",
            hint="an approved or sent issue cannot be approved again",
        )
    if not built.digest.posts and not allow_empty:
        raise DigestError(
            f"issue {built.digest.number} has no posts to send",
            subject=f"list {built.list_name}",
            hint="collect first (digest collect), or include excluded posts "
            "(digest posts include ID); a period with no posts is skipped, not sent",
        )
    issue = store_issue(store, built, now, approved_by=actor)
    if issue is None:
        raise DigestError("another process froze this issue first", subject=built.list_name)
    store.desk.record(built.list_name, issue.number, "approve", "", actor, now)
    log.info("%s: issue %d approved by %s", built.list_name, issue.number, actor)
    return issue


def unapprove(store: Store, list_name: str, actor: str, now: datetime) -> IssueRow:
    """Take back the approval of the list's latest issue; it is a draft again, editable."""
    issue = store.issues.latest(store.subscribers.list_id(list_name))
    if issue is None or issue.status == "sent":
        last = f"issue {issue.number} is sent; " if issue else ""
        raise FrozenError(
            f"{last}no issue is approved",
            subject=f"list {list_name}",
            hint=f"approve the coming issue with: digest approve {list_name}",
        )
    if issue.status != "approved" or not store.issues.unapprove(issue.id):
        raise FrozenError(
            f"issue {issue.number} is sending; it can no longer be unapproved",
            subject=f"list {list_name}",
            hint=f"see how far it got: digest issues show {issue.number} --list {list_name}",
        )
    store.desk.record(list_name, issue.number, "unapprove", "", actor, now)
    log.info("%s: issue %d unapproved by %s", list_name, issue.number, actor)
    return issue


def write_files(built: BuiltIssue, folder: Path) -> None:
    """Write the built issue as ``build --out`` does: the whole email, then each segment's."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "email.html").write_text(built.email.html, encoding="utf-8")
    (folder / "email.txt").write_text(built.email.text, encoding="utf-8")
    (folder / "email.mjml").write_text(built.email.mjml, encoding="utf-8")
    for seg in built.segments:
        (folder / "segments" / seg.key).mkdir(parents=True, exist_ok=True)
        for ext, body in (("html", seg.email.html), ("txt", seg.email.text)):
            (folder / "segments" / seg.key / f"email.{ext}").write_text(body, "utf-8")
