"""Store one source's batch of posts in a few statements: new, updated, or duplicate."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, or_, select

from ..models import Post
from ..sources.images import image_json
from ..sources.simhash import MAX_DISTANCE, Fingerprints, distance, simhash
from .bounds import fit, fit_key
from .schema import posts
from .urls import normalize_url

_CHUNK = 500
_KEY_BYTES = 2000
"""Most UTF-8 bytes of a stored guid, URL or URL key (``String(2000)``, indexed)."""
_AUTHOR_BYTES = 500

NONE_KNOWN: Mapping[str, int | None] = MappingProxyType({})
"""No fingerprint worked out beforehand: each is worked out as its post is stored."""


def _bounded(post: Post) -> Post:
    """The post with its guid, URL and author fitted to their columns (``bounds``)."""
    guid, url, author = fit_key(post.guid, _KEY_BYTES), fit(post.url, _KEY_BYTES), post.author
    author = fit(author, _AUTHOR_BYTES)
    if (guid, url, author) == (post.guid, post.url, post.author):
        return post
    return replace(post, guid=guid, url=url, author=author)


def _url_key(url: str | None) -> str | None:
    key = normalize_url(url)
    return fit_key(key, _KEY_BYTES) if key else key


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What storing one batch of posts did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0


def _content(post: Post, url_key: str | None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "title": post.title,
        "text": post.text,
        "html": post.html,
        "caption": post.caption,
        "image": image_json(post.image),
        "url": post.url,
        "url_key": url_key,
        "author": post.author,
        "author_bio": post.author_bio,
        "areas": list(post.areas),
    }
    if post.published is not None:
        content.update(published=post.published, published_given=True)
    return content


def _existing(
    conn: Connection, guids: Sequence[str], url_keys: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Stored rows by guid and by URL key, for those given (the first stored row wins)."""
    by_guid: dict[str, Any] = {}
    by_url: dict[str, Any] = {}
    for i in range(0, max(len(guids), len(url_keys)), _CHUNK):
        cond = or_(
            posts.c.guid.in_(guids[i : i + _CHUNK]), posts.c.url_key.in_(url_keys[i : i + _CHUNK])
        )
        for row in conn.execute(select(posts).where(cond).order_by(posts.c.id)).mappings():
            by_guid.setdefault(row["guid"], row)
            if row["url_key"]:
                by_url.setdefault(row["url_key"], row)
    return by_guid, by_url


def upsert_posts(
    conn: Connection,
    batch: Iterable[Post],
    now: datetime,
    seen: Fingerprints,
    known: Mapping[str, int | None] = NONE_KNOWN,
) -> UpsertCounts:
    """Insert new posts, update changed ones, count duplicates by guid, URL or body.

    A post whose guid is stored is the same post (updated if its content changed). A new
    guid with a stored post's normalized URL is a duplicate and is dropped. A new post whose
    body is near-identical to a stored original's (or an earlier one's in this batch) is
    stored with ``duplicate_of`` pointing at it, and no issue will include it. A post's
    fingerprint is taken from ``known`` (by its text) when there, else worked out here.
    """

    def fingerprint_of(text: str) -> int | None:
        return known[text] if text in known else simhash(text)

    items = [(_bounded(p), _url_key(p.url)) for p in batch]  # the key of the whole URL
    by_guid, by_url = _existing(
        conn, sorted({p.guid for p, _ in items}), sorted({k for _, k in items if k})
    )
    originals: list[dict[str, Any]] = []
    copies: list[tuple[dict[str, Any], dict[str, Any] | int]] = []
    new = updated = unchanged = duplicate = 0
    for post, url_key in items:
        row = by_guid.get(post.guid)
        if row is None and url_key:
            row = by_url.get(url_key)
            if row is not None and row["guid"] != post.guid:
                duplicate += 1
                continue
        content = _content(post, url_key)
        if row is None:
            fingerprint = fingerprint_of(post.text)
            values = {
                "published": now, "published_given": False, **content, "source": post.source,
                "guid": post.guid, "collected_at": now, "updated_at": now,
                "simhash": fingerprint, "duplicate_of": None,
            }  # fmt: skip
            original: dict[str, Any] | int | None = seen.match(fingerprint)
            if original is None and fingerprint is not None:
                original = next((o for o in originals if _near(o["simhash"], fingerprint)), None)
            if original is None:
                originals.append(values)
                new += 1
            else:
                copies.append((values, original))
                duplicate += 1
            by_guid[post.guid] = values
            if url_key:
                by_url.setdefault(url_key, values)
        elif any(row[k] != v for k, v in content.items()):
            if "id" in row:
                fingerprint = fingerprint_of(post.text)
                values = {"updated_at": now, "simhash": fingerprint, **content}
                conn.execute(posts.update().where(posts.c.id == row["id"]).values(**values))
                if row["duplicate_of"] is None and fingerprint is not None:
                    seen.add(row["id"], fingerprint)
            else:  # the same guid twice in one batch: the later entry wins
                row.update(content, simhash=fingerprint_of(post.text))
            updated += 1
        else:
            unchanged += 1
    _insert(conn, originals, copies, seen)
    return UpsertCounts(new, updated, unchanged, duplicate)


def _near(a: int | None, b: int) -> bool:
    return a is not None and distance(a, b) <= MAX_DISTANCE


def _insert(
    conn: Connection,
    originals: list[dict[str, Any]],
    copies: list[tuple[dict[str, Any], dict[str, Any] | int]],
    seen: Fingerprints,
) -> None:
    """Insert originals, learn their ids, then insert near-copies pointing at them."""
    if not originals and not copies:
        return
    ids: dict[str, int] = {}
    if originals and conn.dialect.insert_executemany_returning:
        insert = posts.insert().returning(posts.c.guid, posts.c.id)
        ids.update((g, int(pk)) for g, pk in conn.execute(insert, originals))
    elif originals:
        conn.execute(posts.insert(), originals)
        guids = [o["guid"] for o in originals]
        for i in range(0, len(guids), _CHUNK):
            query = select(posts.c.guid, posts.c.id).where(posts.c.guid.in_(guids[i : i + _CHUNK]))
            ids.update((g, int(pk)) for g, pk in conn.execute(query))
    seen.add_many((ids[o["guid"]], o["simhash"]) for o in originals if o["simhash"] is not None)
    if copies:
        for values, original in copies:
            values["duplicate_of"] = (
                original if isinstance(original, int) else ids[original["guid"]]
            )
        conn.execute(posts.insert(), [values for values, _ in copies])
