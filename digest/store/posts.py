"""Posts: insert or update what sources found, and read them back for an issue."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, and_, exists, or_, select

from ..errors import NotFoundError
from ..models import Post, StoredPost, Window
from ..sources.images import image_from_json
from ..sources.simhash import Fingerprints
from .issues import frozen
from .schema import issue_posts, issues, lists, post_edits, posts
from .upsert import NONE_KNOWN, UpsertCounts, upsert_posts

__all__ = ["PostRepo", "UpsertCounts"]


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
        rank=row["rank"],
        published_given=row["published_given"],
        image=image_from_json(row["image"]),
    )


class PostRepo:
    """Reads and writes the ``posts`` table."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.fingerprints = Fingerprints()

    def _refresh_fingerprints(self, conn: Connection) -> None:
        """Load the fingerprints of originals stored since the last look (by any process)."""
        query = select(posts.c.id, posts.c.simhash).where(
            posts.c.id > self.fingerprints.last_id,
            posts.c.simhash.is_not(None),
            posts.c.duplicate_of.is_(None),
        )
        self.fingerprints.add_many([(int(i), int(h)) for i, h in conn.execute(query)])

    def upsert(
        self, batch: Iterable[Post], now: datetime, known: Mapping[str, int | None] = NONE_KNOWN
    ) -> UpsertCounts:
        """Store new posts, refresh changed ones, and count duplicates by guid, URL or body.

        ``known``: fingerprints already worked out, by post text (``SourceReport``'s)."""
        with self.engine.begin() as conn:
            return self.upsert_in(conn, batch, now, known)

    def upsert_in(
        self,
        conn: Connection,
        batch: Iterable[Post],
        now: datetime,
        known: Mapping[str, int | None] = NONE_KNOWN,
    ) -> UpsertCounts:
        """``upsert`` in the caller's transaction."""
        self._refresh_fingerprints(conn)
        return upsert_posts(conn, batch, now, self.fingerprints, known)

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

    def recent(self, limit: int) -> list[StoredPost]:
        """The ``limit`` most recently published posts."""
        query = select(posts).order_by(posts.c.published.desc(), posts.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query).mappings()]

    def for_issue(
        self, list_id: int, window: Window, late_since: datetime | None
    ) -> list[StoredPost]:
        """Posts for the list's issue covering ``window`` that no issue of the list has had.

        That is every post published in the window, plus late arrivals: posts published
        before the window but collected after ``late_since`` (when the previous issue was
        built), which missed their own week's issue. A post without a date counts as
        published when first collected, with no end to the window: the scheduled run collects
        just after the window closes, and its undated finds belong to this issue, not the next.
        """
        in_window = and_(posts.c.published > window.start, posts.c.published <= window.end)
        undated = and_(posts.c.published_given.is_(False), posts.c.published > window.start)
        cond = or_(in_window, undated)
        if late_since is not None:
            late = and_(posts.c.published <= window.start, posts.c.collected_at > late_since)
            cond = or_(cond, late)
        taken = exists().where(
            and_(issue_posts.c.post_id == posts.c.id, issue_posts.c.list_id == list_id)
        )
        query = (
            select(posts)
            .where(cond, ~taken, posts.c.duplicate_of.is_(None))
            .order_by(posts.c.published.desc(), posts.c.id)
        )
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(query).mappings()]

    def edit(self, post_id: int, action: str, value: str | None, actor: str, at: datetime) -> None:
        """Apply one editor control to a post, and record who did it and when.

        Refused (FrozenError) while the post is in an approved or sent issue of any list.
        """
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
        holder = (
            select(lists.c.name, issues.c.number, issues.c.status)
            .select_from(issue_posts.join(issues).join(lists, lists.c.id == issues.c.list_id))
            .where(issue_posts.c.post_id == post_id, issues.c.status != "draft")
        )
        with self.engine.begin() as conn:
            # one statement checks and writes, so an approval cannot slip in between
            changed = conn.execute(
                posts.update().where(posts.c.id == post_id, ~holder.exists()).values(**changes)
            ).rowcount
            if not changed:
                name, number, status = conn.execute(holder.limit(1)).one()
                raise frozen(name, number, status, f"post {post_id} can no longer change")
            conn.execute(
                post_edits.insert().values(
                    post_id=post_id, action=action, value=value, actor=actor, at=at
                )
            )

    def reorder(
        self, ordered: Sequence[int], moved: int, action: str, actor: str, at: datetime
    ) -> None:
        """Rank the posts of one section as ``ordered``; record ``action`` on post ``moved``.

        Refused (FrozenError) while any of them is in an approved or sent issue of any list.
        """
        holder = (
            select(lists.c.name, issues.c.number, issues.c.status)
            .select_from(issue_posts.join(issues).join(lists, lists.c.id == issues.c.list_id))
            .where(issue_posts.c.post_id.in_(ordered), issues.c.status != "draft")
        )
        with self.engine.begin() as conn:
            for rank, post_id in enumerate(ordered):
                # each statement checks and writes, so an approval cannot slip in between
                changed = conn.execute(
                    posts.update().where(posts.c.id == post_id, ~holder.exists()).values(rank=rank)
                ).rowcount
                if not changed:
                    held = conn.execute(holder.limit(1)).first()
                    if held is None:
                        raise NotFoundError(f"no post with id {post_id}", subject=f"post {post_id}")
                    raise frozen(held[0], held[1], held[2], f"post {moved} can no longer move")
            conn.execute(
                post_edits.insert().values(
                    post_id=moved, action=action, value=None, actor=actor, at=at
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
