"""One issue in waves, through the real send path to the outbox: each reader exactly once,
readers moving zone mid-period, a held issue holding every wave, missed waves sent by hand."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import event, insert, select

from digest.cli import main
from digest.config.load import load_settings
from digest.models import IssueRow, RenderedEmail, Window
from digest.ops.status import gather
from digest.pipeline import Pipeline
from digest.store import Store
from digest.store.schema import deliveries, subscribers
from digest.store.zones import FREEZE_CACHE_KIB, UNPLACED, Placing
from digest.subscribers.membership import sync_list as sync_roster
from digest.waves import runs as wave_runs

from .test_waves import HEADER, local_list

# Monday 30 November 2026, 07:00 in each zone
TOKYO = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
KATHMANDU = datetime(2026, 11, 30, 1, 15, tzinfo=UTC)
NEW_YORK = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PAGO = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
READERS = {
    "tokyo1@example.org": "Asia/Tokyo",
    "tokyo2@example.org": "Asia/Tokyo",
    "ktm@example.org": "Asia/Kathmandu",
    "nyc@example.org": "",
    "nyc2@example.org": "America/New_York",
    "pago@example.org": "Pacific/Pago_Pago",
}


EMAIL = RenderedEmail("s", "p", "<html></html>", "t", "<mjml></mjml>")


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def setup(project: Path, **keys: str) -> tuple[Pipeline, Clock]:
    config = local_list(project, "0 7 * * 1", "America/New_York", READERS, **keys)
    clock = Clock(TOKYO - timedelta(days=2))
    pipeline = Pipeline(load_settings(config), clock=clock)
    pipeline.store.runs.set_override("weekly", clock.now, "test")  # as the scheduler does
    return pipeline, clock


def move(project: Path, changes: dict[str, str]) -> None:
    rows = {**READERS, **changes}
    text = "".join(f"{e},{e.split('@')[0]},,active,,,{z}\n" for e, z in rows.items())
    (project / "subscribers" / "weekly.csv").write_text(HEADER + text, encoding="utf-8")


def rows(pipeline: Pipeline) -> list[tuple[str, str, datetime | None]]:
    """Every ledger row: (email, status, wave)."""
    with pipeline.store.engine.connect() as conn:
        found = conn.execute(
            select(subscribers.c.email, deliveries.c.status, deliveries.c.wave).join(
                subscribers, subscribers.c.id == deliveries.c.subscriber_id
            )
        ).all()
    return [(r[0], r[1], r[2]) for r in found]


def ledger(pipeline: Pipeline) -> list[tuple[str, str]]:
    """The rows a wave has taken up (sent, or being sent): not those waiting for theirs."""
    return [(e, s) for e, s, _ in rows(pipeline) if s != "waiting"]


def waiting(pipeline: Pipeline) -> dict[str, datetime | None]:
    """Readers whose row waits for a later wave, and that wave."""
    return {e: w for e, s, w in rows(pipeline) if s == "waiting"}


def wave_runs_of(pipeline: Pipeline) -> dict[datetime, tuple[str, dict[str, int]]]:
    return {
        r.wave: (r.outcome, r.counts)
        for r in reversed(pipeline.store.runs.history("weekly"))
        if r.wave is not None
    }


def emails(project: Path) -> list[Path]:
    return list((project / "outbox").glob("weekly/*/*.eml"))


def dispatch(pipeline: Pipeline, clock: Clock, at: datetime, grace: str = "12h") -> list[str]:
    clock.now = at + timedelta(seconds=1)
    sync_roster(pipeline.settings, pipeline.store, "weekly", clock.now)  # as the scheduler does
    hours = float(grace.rstrip("h"))
    done = wave_runs.dispatch(pipeline, "weekly", clock.now, timedelta(hours=hours))
    return [f"{when.astimezone(UTC):%H:%M} {outcome}" for when, outcome in done]


def test_waves_send_each_reader_once_as_zones_change_and_waves_are_missed(
    project: Path,
) -> None:
    pipeline, clock = setup(project)
    assert dispatch(pipeline, clock, TOKYO) == ["22:00 sent"]
    issue = pipeline.store.issues.latest(pipeline.store.subscribers.list_id("weekly"))
    assert issue is not None and issue.status == "sending"  # later waves to come
    assert issue.waves == (TOKYO, KATHMANDU, NEW_YORK, PAGO)  # frozen with the issue
    assert sorted(e for e, _ in ledger(pipeline)) == ["tokyo1@example.org", "tokyo2@example.org"]
    # the freeze wrote every other reader's row too, on its wave
    assert waiting(pipeline) == {
        "ktm@example.org": KATHMANDU,
        "nyc@example.org": NEW_YORK,
        "nyc2@example.org": NEW_YORK,
        "pago@example.org": PAGO,
    }
    assert dispatch(pipeline, clock, TOKYO + timedelta(minutes=1)) == []  # claimed: once

    # mid-period: nyc moves to Tokyo, whose wave has gone; tokyo1 (sent) moves to Pago Pago
    move(project, {"nyc@example.org": "Asia/Tokyo", "tokyo1@example.org": "Pacific/Pago_Pago"})
    assert dispatch(pipeline, clock, KATHMANDU) == ["01:15 sent"]
    assert wave_runs_of(pipeline)[KATHMANDU][1] == {"accepted": 2}  # ktm, and nyc moved
    # nyc's row moved to the wave that ran (Tokyo's had gone); tokyo1 keeps the copy it had
    assert {e: w for e, _, w in rows(pipeline)}["nyc@example.org"] == KATHMANDU

    # the scheduler is down from before New York's wave to after Pago Pago's, grace 1h
    assert dispatch(pipeline, clock, PAGO, grace="1h") == ["12:00 missed", "18:00 sent"]
    runs = {r.wave: r for r in pipeline.store.runs.history("weekly") if r.wave}
    command = "digest schedule run-now weekly --wave 2026-11-30T12:00:00+00:00"
    assert runs[NEW_YORK].outcome == "missed" and command in str(runs[NEW_YORK].detail)
    assert runs[PAGO].counts == {"accepted": 1}  # pago only: tokyo1 had it already
    assert "nyc2@example.org" not in dict(ledger(pipeline))  # waits for the command
    assert waiting(pipeline) == {"nyc2@example.org": NEW_YORK}
    assert pipeline.store.issues.latest(pipeline.store.subscribers.list_id("weekly")).status == (
        "sending"  # a reader still waits: not sent while the missed wave is
    )

    config = project / "config.toml"
    result = CliRunner().invoke(main, ["--config", str(config), *command.split()[1:]])
    assert result.exit_code == 0, result.output
    assert "sent" in result.output
    again = CliRunner().invoke(main, ["--config", str(config), *command.split()[1:]])
    assert "already handled (sent)" in again.output

    sent = ledger(pipeline)
    assert Counter(e for e, _ in sent) == Counter(list(READERS))  # every reader, once
    assert {s for _, s in sent} == {"accepted"}
    assert len(emails(project)) == len(READERS)
    issue = pipeline.store.issues.latest(pipeline.store.subscribers.list_id("weekly"))
    assert issue is not None and issue.status == "sent"


def test_a_held_issue_holds_every_wave_until_approved(project: Path) -> None:
    pipeline, clock = setup(project, approval="required")
    assert dispatch(pipeline, clock, TOKYO) == ["22:00 held"]
    assert dispatch(pipeline, clock, KATHMANDU) == ["01:15 held"]
    assert not rows(pipeline) and not emails(project)  # nothing planned before approval
    pipeline.approve("weekly", "editor@example.org")
    # New York's wave carries the held waves' readers too; Pago Pago's stays its own
    assert dispatch(pipeline, clock, NEW_YORK) == ["12:00 sent"]
    assert sorted(e for e, _ in ledger(pipeline)) == sorted(
        e for e, z in READERS.items() if z != "Pacific/Pago_Pago"
    )
    assert waiting(pipeline) == {"pago@example.org": PAGO}
    assert dispatch(pipeline, clock, PAGO) == ["18:00 sent"]
    assert Counter(e for e, _ in ledger(pipeline)) == Counter(list(READERS))


def test_content_closes_at_the_first_wave(project: Path) -> None:
    pipeline, clock = setup(project)
    dispatch(pipeline, clock, TOKYO)
    first = pipeline.store.issues.latest(pipeline.store.subscribers.list_id("weekly"))
    assert first is not None
    late = project / "posts" / "after-the-close.md"
    late.write_text(
        "---\ntitle: Written After Tokyo Got Its Issue\nauthor: Late Writer\n"
        f"date: {(TOKYO + timedelta(hours=1)).isoformat()}\n---\n\nA late post body.\n",
        encoding="utf-8",
    )
    dispatch(pipeline, clock, KATHMANDU)  # the same frozen issue; the late post waits
    titles = [p.title for p in pipeline.issue_posts("weekly", first.number)]
    assert "Written After Tokyo Got Its Issue" not in titles
    pipeline.collect()
    nxt = pipeline.candidates("weekly", NEW_YORK + timedelta(days=1))
    assert "Written After Tokyo Got Its Issue" in [p.title for p in nxt]


def test_readers_who_join_or_move_after_the_freeze_go_with_a_wave_still_ahead(
    project: Path,
) -> None:
    pipeline, clock = setup(project)
    assert dispatch(pipeline, clock, TOKYO) == ["22:00 sent"]
    # after the freeze: ktm moves to Pago Pago (ahead); two readers join, in Kathmandu (ahead)
    # and in Tokyo (its wave has gone: they get the next wave that runs)
    move(
        project,
        {
            "ktm@example.org": "Pacific/Pago_Pago",
            "late.ktm@example.org": "Asia/Kathmandu",
            "late.tokyo@example.org": "Asia/Tokyo",
        },
    )
    assert dispatch(pipeline, clock, KATHMANDU) == ["01:15 sent"]
    assert wave_runs_of(pipeline)[KATHMANDU][1] == {"accepted": 2}
    assert sorted(e for e, s in ledger(pipeline) if s == "accepted") == [
        "late.ktm@example.org",
        "late.tokyo@example.org",
        "tokyo1@example.org",
        "tokyo2@example.org",
    ]
    assert waiting(pipeline) == {
        "ktm@example.org": PAGO,  # moved with its reader: the new zone's wave is still ahead
        "nyc@example.org": NEW_YORK,
        "nyc2@example.org": NEW_YORK,
        "pago@example.org": PAGO,
    }
    assert dispatch(pipeline, clock, NEW_YORK) == ["12:00 sent"]
    assert dispatch(pipeline, clock, PAGO) == ["18:00 sent"]
    assert wave_runs_of(pipeline)[PAGO][1] == {"accepted": 2}  # pago and ktm
    everyone = [*READERS, "late.ktm@example.org", "late.tokyo@example.org"]
    assert Counter(e for e, _ in ledger(pipeline)) == Counter(everyone)  # each once
    assert {s for _, s in ledger(pipeline)} == {"accepted"}
    assert len(emails(project)) == len(everyone)
    issue = pipeline.store.issues.latest(pipeline.store.subscribers.list_id("weekly"))
    assert issue is not None and issue.status == "sent"


def test_digest_send_sends_every_reader_still_waiting_at_once(project: Path) -> None:
    pipeline, clock = setup(project)
    assert dispatch(pipeline, clock, TOKYO) == ["22:00 sent"]
    assert len(waiting(pipeline)) == 4
    pipeline.send("weekly")  # the operator's digest send LIST: whatever their zone
    assert waiting(pipeline) == {}
    assert Counter(e for e, _ in ledger(pipeline)) == Counter(list(READERS))
    assert {s for _, s in ledger(pipeline)} == {"accepted"}
    assert len(emails(project)) == len(READERS)


def test_status_names_a_wave_no_run_took_and_the_command_that_sends_it(project: Path) -> None:
    """Rows still waiting five minutes past their wave's time with no run holding the list,
    and a wave's claim left to expire, are problems of ``digest status``, each naming the
    command that sends that wave (not ``send --resume``, which never sends waiting rows)."""
    pipeline, clock = setup(project)
    assert dispatch(pipeline, clock, TOKYO) == ["22:00 sent"]

    def problems(at: datetime) -> list[str]:
        return list(gather(pipeline.settings, pipeline.store, at, lambda *_: []).problems)

    run_now = "digest schedule run-now weekly --wave"
    assert problems(KATHMANDU + timedelta(minutes=4)) == []  # a running scheduler's moment
    assert problems(KATHMANDU + timedelta(minutes=10)) == [
        f"weekly #1: 1 readers of the wave due at {KATHMANDU.isoformat()} still wait and no run "
        f"holds it: a scheduler within the list's grace sends it, or "
        f"`{run_now} 2026-11-30T01:15:00+00:00`"
    ]
    assert dispatch(pipeline, clock, KATHMANDU + timedelta(minutes=10)) == ["01:15 sent"]
    assert problems(KATHMANDU + timedelta(minutes=11)) == []
    # New York's run claims its wave and dies before taking a row: its claim expires
    issue = pipeline.store.issues.latest(pipeline.store.subscribers.list_id("weekly"))
    assert issue is not None
    owner = "host-b:4242:dead"
    lease = timedelta(seconds=30)
    taken = pipeline.store.runs.claim(
        "weekly", issue.window, "scheduler", owner, NEW_YORK, lease, wave=NEW_YORK
    )
    assert taken is not None
    found = problems(NEW_YORK + timedelta(minutes=10))
    assert len(found) == 2 and all(f"`{run_now} 2026-11-30T12:00:00+00:00`" in p for p in found)
    assert f"the wave at {NEW_YORK.isoformat()}" in found[0] and f"owner {owner}" in found[0]
    assert "2 readers of the wave due" in found[1]  # nyc and nyc2
    assert not any("--resume" in p for p in found)
    pipeline.close()


def tokyo_then_new_york(
    store: Store, readers: list[dict[str, Any]]
) -> tuple[int, IssueRow, Placing]:
    """``readers`` (each an email, a zone and maybe an id) active on list ``weekly``, and its
    issue 1 sent in two waves: Tokyo's, this run's, and New York's (the list's), after."""
    list_id = store.subscribers.list_id("weekly")
    with store.begin() as conn:
        conn.execute(
            insert(subscribers),
            [
                {"list_id": list_id, "name": "", "areas": [], "status": "active",
                 "in_roster": True, "updated_at": TOKYO, **reader}
                for reader in readers
            ],
        )  # fmt: skip
    slots = {"Asia/Tokyo": TOKYO, "America/New_York": NEW_YORK}
    placing = Placing("America/New_York", tuple(slots), slots.__getitem__, slots.__getitem__,
                      frozenset({TOKYO}))  # fmt: skip
    issue = store.issues.create(list_id, 1, Window(TOKYO, TOKYO), [], EMAIL, TOKYO, waves=(TOKYO,))
    assert issue is not None
    return list_id, issue, placing


def test_on_sqlite_the_freeze_writes_with_a_large_page_cache_and_gives_it_back(
    tmp_path: Path,
) -> None:
    """The freeze's inserts run on one connection with ``FREEZE_CACHE_KIB`` of page cache
    (the waves' indexes take each batch at many places); the connection goes back to the
    pool with SQLite's own cache size."""
    store = Store(f"sqlite:///{tmp_path / 'freeze.db'}")
    readers = [
        {"email": f"r{i}@example.org", "timezone": "Asia/Tokyo" if i % 2 else None}
        for i in range(30)
    ]
    list_id, issue, placing = tokyo_then_new_york(store, readers)
    with store.engine.connect() as conn:
        default = conn.connection.driver_connection.execute("PRAGMA cache_size").fetchone()[0]
    seen: list[tuple[Any, int]] = []

    def watch(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO deliveries"):
            raw = conn.connection.driver_connection
            seen.append((raw, raw.execute("PRAGMA cache_size").fetchone()[0]))

    event.listen(store.engine, "before_cursor_execute", watch)
    assert store.issues.plan_active(issue.id, list_id, TOKYO, batch=10, placing=placing) == 30
    event.remove(store.engine, "before_cursor_execute", watch)
    # ids 1 to 30, in batches starting at multiples of 10 (0, 10, 20 and 30): every batch
    assert [size for _, size in seen] == [-FREEZE_CACHE_KIB] * 4
    assert len({id(raw) for raw, _ in seen}) == 1  # one connection, its cache kept
    assert seen[0][0].execute("PRAGMA cache_size").fetchone()[0] == default != -FREEZE_CACHE_KIB
    store.close()


def test_the_freeze_puts_each_readers_row_on_their_zones_wave(database_url: str) -> None:
    """The SQL that writes every row at the freeze agrees with ``Placing.row`` reader by
    reader: listed zones, readers without a zone (the list's), and a zone the plan did not
    know (no wave until ``place_unknown`` puts it on one)."""
    store = Store(database_url)
    list_id = store.subscribers.list_id("weekly")
    zones = {**READERS, "lagos@example.org": "Africa/Lagos", "late@example.org": "Asia/Dubai"}
    with store.begin() as conn:
        conn.execute(
            insert(subscribers),
            [
                {"list_id": list_id, "email": e, "name": "", "areas": [], "status": "active",
                 "in_roster": True, "updated_at": TOKYO, "timezone": z or None}
                for e, z in zones.items()
            ],
        )  # fmt: skip
    slots = {"Asia/Tokyo": TOKYO, "Asia/Kathmandu": KATHMANDU, "America/New_York": NEW_YORK,
             "Pacific/Pago_Pago": PAGO, "Africa/Lagos": NEW_YORK - timedelta(hours=6),
             "Asia/Dubai": TOKYO - timedelta(hours=5)}  # fmt: skip
    known = (
        "Asia/Tokyo",
        "Asia/Kathmandu",
        "America/New_York",
        "Pacific/Pago_Pago",
        "Africa/Lagos",
        "Asia/Tokyo",
    )  # Dubai joined after the plan; Tokyo listed twice
    placing = Placing(
        default="America/New_York",
        zones=known,
        slot=slots.__getitem__,
        target=slots.__getitem__,
        released=frozenset({TOKYO, KATHMANDU}),
    )
    issue = store.issues.create(list_id, 1, Window(TOKYO, TOKYO), [], EMAIL, TOKYO, waves=(TOKYO,))
    assert issue is not None
    added = store.issues.plan_active(issue.id, list_id, TOKYO, placing=placing)
    assert added == len(zones)

    def rows() -> dict[str, tuple[str, datetime | None]]:
        with store.begin() as conn:
            got = conn.execute(select(deliveries.c.email, deliveries.c.status, deliveries.c.wave))
            return {e: (s, w) for e, s, w in got}

    expected = {
        e: (str(r["status"]), r["wave"])
        for e, z in zones.items()
        if (r := placing.row(z or None, "planned", "waiting"))
    }
    assert {e: r for e, r in rows().items() if e != "late@example.org"} == {
        e: r for e, r in expected.items() if e != "late@example.org"
    }
    assert rows()["late@example.org"] == ("waiting", UNPLACED)  # in the index of waves
    assert store.issues.place_unknown(issue.id, placing, TOKYO) == 1
    assert rows() == expected
    store.close()
