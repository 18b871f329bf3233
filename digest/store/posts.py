"""Posts: insert or update what sources found, and read them back for an issue."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, RowMapping, and_, exists, or_, select

from ..errors import NotFoundError
from ..models import Post, StoredPost, Window
from ..urls import normalize_url
from .schema import issue_posts, post_edits, posts


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What storing one batch of posts did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0


def _stored(row: RowMapping) -> StoredPost:
    return StoredPost(
        id=row["id"],
        source=row["source"],
        guid=row["guid"],
        title=row["title"],
        text=row["text"],
        url=row["url"],
        author=row["author"],
        areas=tuple(row["areas"] or ()),
        published=row["published"],
        collected_at=row["collected_at"],
        html=row["html"],
        summary_override=row["summary_override"],
        area_override=row["area_override"],
        excluded=row["excluded"],
        pinned=row["pinned"],
    )


class PostRepo:
    """Reads and writes the ``posts`` table."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def upsert(self, batch: Iterable[Post], now: datetime) -> UpsertCounts:
        """Store new posts, refresh changed ones, and count duplicates by guid or URL."""
        new = updated = unchanged = duplicate = 0
        with self.engine.begin() as conn:
            for post in batch:
                url_key = normalize_url(post.url)
                row = (
                    conn.execute(select(posts).where(posts.c.guid == post.guid)).mappings().first()
                )
                if row is None and url_key:
                    row = (
                        conn.execute(select(posts).where(posts.c.url_key == url_key))
                        .mappings()
                        .first()
                    )
                    if row is not None and row["guid"] != post.guid:
                        duplicate += 1
                        continue
                content: dict[str, Any] = {
                    "title": post.title,
                    "text": post.text,
                    "html": post.html,
                    "caption": post.caption,
                    "url": post.url,
                    "url_key": url_key,
                    "author": post.author,
                    "author_bio": post.author_bio,
                    "areas": list(post.areas),
                }
                if post.published is not None:
                    content.update(published=post.published, published_given=True)
                if row is None:
                    values = {
                        "published": now,
                        "published_given": False,
                        **content,
                        "source": post.source,
                        "guid": post.guid,
                        "collected_at": now,
                        "updated_at": now,
                    }
                    conn.execute(posts.insert().values(**values))
                    new += 1
                elif any(row[k] != v for k, v in content.items()):
                    conn.execute(
                        posts.update()
                        .where(posts.c.id == row["id"])
                        .values(updated_at=now, **content)
                    )
                    updated += 1
                else:
                    unchanged += 1
        return UpsertCounts(new, updated, unchanged, duplicate)

    def get(self, post_id: int) -> StoredPost:
        with self.engine.connect() as conn:
            row = conn.execute(select(posts).where(posts.c.id == post_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no post with id {post_id}", subject=f"post {post_id}")
        return _stored(row)

    def since(self, since: datetime | None = None) -> list[StoredPost]:
        """All posts published at or after ``since``, oldest first."""
        query = select(posts).order_by(posts.c.published, posts.c.id)
        if since is not None:
            query = query.where(posts.c.published >= since)
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query).mappings()]

    def for_issue(
        self, list_id: int, window: Window, late_since: datetime | None
    ) -> list[StoredPost]:
        """Posts for the list's issue covering ``window`` that no issue of the list has had.

        That is every post published in the window, plus late arrivals: posts published
        before the window but collected after ``late_since`` (when the previous issue was
        built), which missed their own week's issue.
        """
        in_window = and_(posts.c.published > window.start, posts.c.published <= window.end)
        cond = in_window
        if late_since is not None:
            late = and_(posts.c.published <= window.start, posts.c.collected_at > late_since)
            cond = or_(in_window, late)
        taken = exists().where(
            and_(issue_posts.c.post_id == posts.c.id, issue_posts.c.list_id == list_id)
        )
        query = select(posts).where(cond, ~taken).order_by(posts.c.published.desc(), posts.c.id)
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query).mappings()]

    def edit(self, post_id: int, action: str, value: str | None, actor: str, at: datetime) -> None:
        """Apply one editor control to a post, and record who did it and when."""
        self.get(post_id)
        edits: dict[str, dict[str, Any]] = {
            "set-summary": {"summary_override": value},
            "clear-summary": {"summary_override": None},
            "exclude": {"excluded": True},
            "include": {"excluded": False},
            "pin": {"pinned": True},
            "unpin": {"pinned": False},
            "set-area": {"area_override": value},
        }
        changes = edits[action]
        with self.engine.begin() as conn:
            conn.execute(posts.update().where(posts.c.id == post_id).values(**changes))
            conn.execute(
                post_edits.insert().values(
                    post_id=post_id, action=action, value=value, actor=actor, at=at
                )
            )

    def edits(self, post_id: int) -> list[tuple[str, str | None, str, datetime]]:
        """The editor changes made to a post: (action, value, actor, time), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(post_edits.c.action, post_edits.c.value, post_edits.c.actor, post_edits.c.at)
                .where(post_edits.c.post_id == post_id)
                .order_by(post_edits.c.id)
            ).all()
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def by_ids(self, ids: Sequence[int]) -> list[StoredPost]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(posts).where(posts.c.id.in_(ids))).mappings().all()
        by_id = {r["id"]: _stored(r) for r in rows}
        return [by_id[i] for i in ids if i in by_id]
