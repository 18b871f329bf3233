"""Tables of the store and its schema version."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Computed,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from .columns import UTCDateTime, UTCSeconds

SCHEMA_VERSION = 3
"""The ``meta`` table's version: 1 and 2 came before Alembic (2 added ``runs.destination``);
3 says "managed by Alembic", so a digest from before Alembic refuses the database instead of
writing to a schema it does not know. Schema changes are Alembic revisions now
(``digest/store/migrations/versions``)."""


metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("state", JSON, nullable=False, default=dict),
    Column("last_attempt", UTCDateTime),
    Column("last_success", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("disabled", Boolean, nullable=False, default=False),
)

posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("source", String(200), nullable=False),
    Column("guid", String(2000), nullable=False, unique=True),
    Column("url", String(2000)),
    Column("url_key", String(2000), index=True),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("html", Text),
    Column("caption", Text),
    Column("image", JSON),
    Column("author", String(500)),
    Column("author_bio", Text, nullable=False, default=""),
    Column("areas", JSON, nullable=False, default=list),
    Column("published", UTCDateTime, nullable=False, index=True),
    Column("published_given", Boolean, nullable=False),
    Column("collected_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("summary_override", Text),
    Column("area_override", String(500)),
    Column("excluded", Boolean, nullable=False, default=False),
    Column("pinned", Boolean, nullable=False, default=False),
    Column("rank", Integer),
    Column("simhash", BigInteger),
    Column("duplicate_of", ForeignKey("posts.id"), index=True),
)

post_edits = Table(
    "post_edits",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("post_id", ForeignKey("posts.id"), nullable=False, index=True),
    Column("action", String(50), nullable=False),
    Column("value", Text),
    Column("actor", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

lists = Table(
    "lists",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", ForeignKey("lists.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("name", String(500), nullable=False, default=""),
    Column("areas", JSON, nullable=False, default=list),
    Column("status", String(20), nullable=False, default="active"),
    Column("in_roster", Boolean, nullable=False, default=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("subscribed_at", String(40)),
    Column("source", String(200)),
    Column("areas_chosen_at", UTCDateTime),
    Column("timezone", String(64)),
    Column("timezone_chosen_at", UTCDateTime),
    UniqueConstraint("list_id", "email"),
    # covers readers per zone (the wave plan) and one wave's readers
    Index("ix_subscribers_list_zone", "list_id", "timezone", "status", "in_roster"),
    Index("ix_subscribers_list_updated", "list_id", "updated_at"),
    # a list's readers in id order, page by page (``SubscriberRepo.active``) without a sort
    Index("ix_subscribers_list_id", "list_id", "id"),
)

issues = Table(
    "issues",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_id", ForeignKey("lists.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("subject", Text, nullable=False, default=""),
    Column("preheader", Text, nullable=False, default=""),
    Column("html", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("mjml", Text, nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("approved_by", String(200)),
    Column("approved_at", UTCDateTime),
    Column("placeholders", String(64)),
    # the wave instants frozen with the issue of a list sent in its readers' zones
    Column("waves", JSON),
    # when the ledger got a row for every reader: a list sent in waves plans all at the freeze
    Column("planned_at", UTCDateTime),
    UniqueConstraint("list_id", "period_start", name="uq_issue_period"),
    UniqueConstraint("list_id", "number", name="uq_issue_number"),
)

issue_segments = Table(
    "issue_segments",
    metadata,
    Column("issue_id", ForeignKey("issues.id"), nullable=False),
    Column("key", String(500), nullable=False),
    Column("subject", Text, nullable=False),
    Column("preheader", Text, nullable=False),
    Column("html", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("mjml", Text, nullable=False),
    Column("placeholders", String(64)),
    UniqueConstraint("issue_id", "key", name="uq_issue_segment"),
)

issue_posts = Table(
    "issue_posts",
    metadata,
    Column("issue_id", ForeignKey("issues.id"), nullable=False),
    Column("list_id", ForeignKey("lists.id"), nullable=False),
    Column("post_id", ForeignKey("posts.id"), nullable=False),
    Column("position", Integer, nullable=False),
    UniqueConstraint("list_id", "post_id", name="uq_post_once_per_list"),
)

SPAN = 50_000
"""Subscriber ids per span: ``deliveries.span`` is ``subscriber_id / SPAN``, and the freeze
writes a span at a time (see ``ix_deliveries_wave``)."""

PLANNED_ROWS = "status = 'planned'"
IN_HAND_ROWS = "status IN ('claimed', 'submitted')"
WAVE_ROWS = "wave IS NOT NULL"
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issue_id", ForeignKey("issues.id"), nullable=False),
    Column("subscriber_id", ForeignKey("subscribers.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("status", String(20), nullable=False),
    Column("message_id", String(500)),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, default=0),
    Column("segment", String(200), nullable=False, default=""),
    Column("chunk", String(64)),
    Column("updated_at", UTCDateTime, nullable=False),
    # the wave a row goes out with (a list sent in its readers' zones; NULL otherwise)
    Column("wave", UTCSeconds),
    # the span of subscriber ids a row lies in, computed by the database: no writer sets it
    Column("span", Integer, Computed(f"subscriber_id / {SPAN}", persisted=True)),
    UniqueConstraint("issue_id", "subscriber_id", name="uq_delivery_once"),
    # only the rows to send, and those in hand: a wave's chunks and claims read their own
    # rows, not every wave's rows in the id range (partial: queries name the status as a
    # literal, which is what lets SQLite and PostgreSQL use them)
    Index(
        "ix_deliveries_planned", "issue_id", "segment", "subscriber_id",
        sqlite_where=text(PLANNED_ROWS), postgresql_where=text(PLANNED_ROWS),
    ),
    Index(
        "ix_deliveries_in_hand", "issue_id", "chunk",
        sqlite_where=text(IN_HAND_ROWS), postgresql_where=text(IN_HAND_ROWS),
    ),
    # a wave's rows, span by span, in id order: its run claims those still waiting from here
    # and counts them for its report. Led by the span, not the wave: the freeze writes a span
    # at a time in wave order, so its rows go in at the end of this index, not at each wave's
    # place in it (where SQLite seeks every row from the root). Queries name the issue's spans
    # (``span IN (...)``). Only rows with a wave: a send without waves keeps none of it.
    Index(
        "ix_deliveries_wave", "issue_id", "span", "wave", "segment", "subscriber_id",
        sqlite_where=text(WAVE_ROWS), postgresql_where=text(WAVE_ROWS),
    ),
)  # fmt: skip

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_name", String(200), nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("detail", Text),
    Column("issue_number", Integer),
    Column("counts", JSON),
    Column("destination", Text),
    Column("owner", String(200)),
    Column("started_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("wave", UTCDateTime),
    Index("ix_runs_list_period", "list_name", "period_start"),
)

period_claims = Table(
    "period_claims",
    metadata,
    Column("list_name", String(200), nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("owner", String(200)),
    Column("lease_until", UTCDateTime),
    UniqueConstraint("list_name", "period_start", name="uq_one_run_per_period"),
)

wave_claims = Table(
    "wave_claims",
    metadata,
    Column("list_name", String(200), nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=False),
    Column("wave", UTCDateTime, nullable=False),
    Column("run_id", ForeignKey("runs.id"), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("owner", String(200)),
    Column("lease_until", UTCDateTime),
    UniqueConstraint("list_name", "period_start", "wave", name="uq_one_run_per_wave"),
)
"""The (list, period, wave) claim of a list sent in its readers' zones: one run per wave."""

schedules = Table(
    "schedules",
    metadata,
    Column("list_name", String(200), primary_key=True),
    Column("cron", String(200)),
    Column("timezone", String(100)),
    Column("paused", Boolean, nullable=False, default=False),
    Column("since", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(200)),
)

heartbeats = Table(
    "scheduler_heartbeats",
    metadata,
    Column("owner", String(200), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("beat_at", UTCDateTime, nullable=False),
    Column("state", String(50), nullable=False),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(320), nullable=False, index=True),
    Column("list_id", ForeignKey("lists.id")),
    Column("reason", String(20), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("origin", String(50), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

chunk_leases = Table(
    "chunk_leases",
    metadata,
    Column("chunk", String(64), primary_key=True),
    Column("issue_id", ForeignKey("issues.id"), nullable=False, index=True),
    Column("owner", String(200), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
)
"""Who holds a ledger chunk in hand and until when (None: for as long as its owner holds the
period's claim, the in-process send)."""

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("event", String(50), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
)

delivery_stats = Table(
    "delivery_stats",
    metadata,
    Column("issue_id", ForeignKey("issues.id"), nullable=False),
    Column("subscriber_id", ForeignKey("subscribers.id"), nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("deferred", Integer, nullable=False, default=0),
    Column("opens", Integer, nullable=False, default=0),
    Column("clicks", Integer, nullable=False, default=0),
    Column("first_open_at", UTCDateTime),
    Column("first_click_at", UTCDateTime),
    Column("last_event_at", UTCDateTime, nullable=False),
    UniqueConstraint("issue_id", "subscriber_id", name="uq_delivery_stats"),
)

desk_actions = Table(
    "desk_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_name", String(200), nullable=False, index=True),
    Column("issue_number", Integer),
    Column("action", String(50), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("actor", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

headlines = Table(
    "headlines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("list_name", String(200), nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("segment", String(500), nullable=False),
    Column("subject", Text),
    Column("preheader", Text),
    Column("actor", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    UniqueConstraint("list_name", "period_start", "segment", name="uq_headline"),
)
"""Editors' subject and preheader of a list's coming issue ("" segment: the whole issue)."""
