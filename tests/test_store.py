from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from digest.errors import StoreError
from digest.models import Post, RenderedEmail, Window
from digest.store import Store
from digest.store.schema import SCHEMA_VERSION

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EMAIL = RenderedEmail("s", "p", "<html></html>", "t", "<mjml></mjml>")


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(database_url)


def post(guid: str, url: str | None = None, published: datetime | None = None, **kw: str) -> Post:
    return Post(
        source="s",
        guid=guid,
        title=kw.get("title", guid),
        text=kw.get("text", "Body."),
        url=url,
        published=published,
    )


def test_schema_version_recorded_and_reopen_is_idempotent(database_url: str) -> None:
    url = database_url
    assert Store(url).schema_version() == SCHEMA_VERSION
    assert Store(url).schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer than this digest"):
        Store(store.url)


def test_upsert_counts_new_updated_unchanged_and_url_duplicates(store: Store) -> None:
    first = store.posts.upsert(
        [post("a", "https://Blog.example.org/x/?utm_source=feed#top"), post("b")], T0
    )
    assert (first.new, first.updated, first.duplicate) == (2, 0, 0)
    again = store.posts.upsert(
        [post("a", "https://Blog.example.org/x/?utm_source=feed#top", title="A2"), post("b")],
        T0 + timedelta(hours=1),
    )
    assert (again.new, again.updated, again.unchanged) == (0, 1, 1)
    dup = store.posts.upsert([post("c", "https://blog.example.org:443/x")], T0)
    assert dup.duplicate == 1 and dup.new == 0
    stored = store.posts.since()
    assert [p.title for p in stored] == ["A2", "b"]
    assert stored[0].collected_at == T0  # first collection time is kept


def test_post_without_date_takes_first_collection_time(store: Store) -> None:
    store.posts.upsert([post("a")], T0)
    store.posts.upsert([post("a")], T0 + timedelta(days=3))
    (stored,) = store.posts.since()
    assert stored.published == T0


def test_for_issue_window_exclusivity_and_late_arrivals(store: Store) -> None:
    week1 = Window(T0 - timedelta(days=7), T0)
    week2 = Window(T0, T0 + timedelta(days=7))
    store.posts.upsert(
        [
            post("old", published=week1.start - timedelta(days=1)),
            post("w1", published=week1.start + timedelta(days=1)),
            post("w2", published=week2.start + timedelta(days=1)),
        ],
        T0 - timedelta(days=1),
    )
    list_id = store.subscribers.list_id("weekly")
    assert [p.guid for p in store.posts.for_issue(list_id, week1, None)] == ["w1"]
    issue1 = store.issues.create(list_id, 1, week1, [store.posts.since()[1].id], EMAIL, T0)
    assert issue1 is not None
    # a week-1 post that arrives after issue 1 was built goes into issue 2
    late = post("late", published=week1.start + timedelta(days=2))
    store.posts.upsert([late], T0 + timedelta(hours=1))
    got = [p.guid for p in store.posts.for_issue(list_id, week2, issue1.created_at)]
    assert sorted(got) == ["late", "w2"]
    # another list's first issue still gets every week-1 post
    other = store.subscribers.list_id("daily")
    assert sorted(p.guid for p in store.posts.for_issue(other, week1, None)) == ["late", "w1"]


def test_one_issue_per_list_and_period(store: Store) -> None:
    list_id = store.subscribers.list_id("weekly")
    window = Window(T0 - timedelta(days=7), T0)
    assert store.issues.create(list_id, 1, window, [], EMAIL, T0) is not None
    assert store.issues.create(list_id, 2, window, [], EMAIL, T0) is None
    assert store.issues.next_number(list_id) == 2


def test_post_claimed_by_one_issue_only(store: Store) -> None:
    store.posts.upsert([post("p", published=T0 - timedelta(days=1))], T0)
    pid = store.posts.since()[0].id
    list_id = store.subscribers.list_id("weekly")
    w1, w2 = Window(T0 - timedelta(days=7), T0), Window(T0, T0 + timedelta(days=7))
    assert store.issues.create(list_id, 1, w1, [pid], EMAIL, T0) is not None
    assert store.issues.create(list_id, 2, w2, [pid], EMAIL, T0) is None


def test_an_undated_post_found_just_after_the_window_goes_into_its_issue(store: Store) -> None:
    week1 = Window(T0 - timedelta(days=7), T0)
    week2 = Window(T0, T0 + timedelta(days=7))
    list_id = store.subscribers.list_id("weekly")
    # the scheduled run collects a minute after the week closes, then builds its issue
    store.posts.upsert([post("undated"), post("dated", published=T0 + timedelta(hours=1))], T0)
    store.posts.upsert([post("found-late")], T0 + timedelta(minutes=1))
    got = [p.guid for p in store.posts.for_issue(list_id, week1, None)]
    assert sorted(got) == ["found-late", "undated"]  # not the dated post of week 2
    ids = [p.id for p in store.posts.since() if p.guid in got]
    issue1 = store.issues.create(list_id, 1, week1, ids, EMAIL, T0 + timedelta(minutes=2))
    assert issue1 is not None
    store.posts.upsert([post("next-week")], T0 + timedelta(days=2))
    # and the same a week later, when the build also looks for late arrivals
    store.posts.upsert([post("found-late-2")], week2.end + timedelta(minutes=1))
    got = [p.guid for p in store.posts.for_issue(list_id, week2, issue1.created_at)]
    assert sorted(got) == ["dated", "found-late-2", "next-week"]  # each post in one issue


def test_over_long_feed_keys_fit_their_columns_and_stay_distinct(store: Store) -> None:
    """A hostile feed's 3,000-character guid, link and author are stored on every database
    (PostgreSQL refuses what its columns and indexes cannot hold; SQLite would not)."""
    stem = "https://blog.example.org/" + "ü" * 1500
    posts = [
        Post(source="s", guid=stem + "/a", title="A", text="Body a.", url=stem + "/a",
             author="Ö" * 3000, published=T0),
        Post(source="s", guid=stem + "/b", title="B", text="Other body b.", url=stem + "/b",
             published=T0),
    ]  # fmt: skip
    first = store.posts.upsert(posts, T0)
    assert (first.new, first.duplicate) == (2, 0)  # cut keys keep a hash of the whole
    again = store.posts.upsert(posts, T0 + timedelta(hours=1))
    assert (again.new, again.unchanged) == (0, 2)
    stored = store.posts.since()
    assert all(len(p.guid.encode()) <= 2000 and len((p.url or "").encode()) <= 2000 for p in stored)
    assert stored[0].author and len(stored[0].author.encode()) <= 500
