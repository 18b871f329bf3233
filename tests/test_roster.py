from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import ConfigError, SubscriberError
from digest.store import Store
from digest.store.subscribers import SyncCounts
from digest.subscribers.roster import _validated, normalize_email, read_roster

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode(encoding))
    return path


def test_bad_rows_are_reported_with_file_and_line_and_others_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,areas,status\n"
        "a@example.org,Ann,IR;Security,active\n"
        "not-an-email,Bob,,active\n"
        "c@Example.ORG,Cy,,paused\n"
        "\n"
        "d@EXAMPLE.org,Di,,\n"
        "D@example.org,Di again,,unsubscribed\n"
        "e@example.org,Ed,,active,extra\n",
    )
    roster = read_roster(path)
    assert [s.email for s in roster.subscribers] == [
        "a@example.org",
        "d@example.org",
        "D@example.org",
    ]
    problems = [str(p) for p in roster.problems]
    assert problems[0].startswith(f"{path}:3: invalid email 'not-an-email'")
    assert problems[1].startswith(f"{path}:4: status 'paused'")
    assert problems[2] == f"{path}:8: more cells than header columns; row skipped"
    assert roster.subscribers[0].areas == ("IR", "Security")


def test_a_duplicate_keeps_the_first_row_and_the_earliest_date(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "email,name,subscribed_at,status\n"
        "x@Example.org,One,2026-03-01,\n"
        "x@example.ORG,Two,2025-01-01,\n"
        "x@example.org,Three,2027-01-01,unsubscribed\n",
    )
    roster = read_roster(path)
    (sub,) = roster.subscribers
    assert (sub.email, sub.name, sub.line) == ("x@example.org", "One", 2)
    assert sub.subscribed_at == "2025-01-01"  # the earliest of the three
    assert sub.status == "unsubscribed"  # an opt-out further down is never lost
    assert [str(p) for p in roster.problems] == [
        f"{path}:3: duplicates line 2 (x@example.org): kept line 2, "
        "taking its earlier subscribed_at 2025-01-01",
        f"{path}:4: duplicates line 2 (x@example.org): kept line 2, taking its status "
        "'unsubscribed'",
    ]


def test_bom_semicolons_and_idna(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffemail;name;areas\nzoë@bücher.example;Zoë;Climate\n")
    roster = read_roster(path)
    assert roster.problems == ()
    (sub,) = roster.subscribers
    assert sub.email == "zoë@xn--bcher-kva.example" and sub.name == "Zoë"


def test_unusable_files(tmp_path: Path) -> None:
    with pytest.raises(SubscriberError, match="no 'email' column"):
        read_roster(write(tmp_path, "mail,name\nx@example.org,X\n"))
    with pytest.raises(SubscriberError, match="unknown column 'phone'"):
        read_roster(write(tmp_path, "email,phone\nx@example.org,1\n"))
    with pytest.raises(ConfigError, match="not found"):  # the config names it: exit 2
        read_roster(tmp_path / "missing.csv")


def test_sync_keeps_database_suppressions_and_marks_removed(
    tmp_path: Path, database_url: str
) -> None:
    store = Store(database_url)
    lid = store.subscribers.list_id("weekly")
    path = write(tmp_path, "email,name\na@example.org,A\nb@example.org,B\n")
    store.subscribers.sync(lid, read_roster(path).subscribers, NOW)
    a, b = list(store.subscribers.active(lid))
    store.subscribers.set_status(a.id or 0, "unsubscribed", NOW)
    counts = store.subscribers.sync(lid, read_roster(path).subscribers, NOW)
    assert counts.kept_suppressed == 1
    assert [s.email for s in store.subscribers.active(lid)] == ["b@example.org"]
    path.write_text("email,name\na@example.org,A\nc@example.org,C\n", encoding="utf-8")
    counts = store.subscribers.sync(lid, read_roster(path).subscribers, NOW)
    assert (counts.added, counts.removed) == (1, 1)
    assert [s.email for s in store.subscribers.active(lid)] == ["c@example.org"]
    assert store.subscribers.status(b.id or 0) == "removed"


def test_a_bad_byte_far_into_a_large_file_names_its_offset(tmp_path: Path) -> None:
    """The file is read as it streams: a byte that is not UTF-8 well past the first read
    still gives the exact offset, and no row of it is used."""
    head = "email,name\n" + "".join(f"r{i:06d}@example.org,R\n" for i in range(20_000))
    path = tmp_path / "list.csv"
    path.write_bytes(head.encode() + b"bad@example.org,Caf\xe9\n")
    with pytest.raises(SubscriberError, match=rf"not UTF-8 \(byte {len(head.encode()) + 19}\)"):
        read_roster(path)


def test_a_quoted_cell_over_two_lines_is_one_row_reported_at_its_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'email,name\n"a@example.org","Ann\nLee"\nnot-an-address,B\n"c@example.org","Lee, C"\n',
    )
    roster = read_roster(path)
    assert [(s.email, s.name, s.line) for s in roster.subscribers] == [
        ("c@example.org", "Lee, C", 5)
    ]
    assert [(p.where, p.message.split(":")[0]) for p in roster.problems] == [
        (f"{path}:2", "name"),  # a line break in a name would break the To: header
        (f"{path}:4", "invalid email 'not-an-address'"),
    ]


def test_sync_in_batches_keeps_every_rule_across_batch_edges(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A roster larger than a batch: rows compared, added, suppressed and removed across the
    edges of the batches the sync reads the store in."""
    monkeypatch.setattr("digest.store.subscribers.BATCH", 3)
    store = Store(database_url)
    lid = store.subscribers.list_id("weekly")
    rows = [f"r{i}@example.org,R{i}" for i in range(10)]
    path = write(tmp_path, "email,name\n" + "\n".join(rows) + "\n")
    assert store.subscribers.sync(lid, read_roster(path).subscribers, NOW).added == 10
    ids = {s.email: s.id or 0 for s in store.subscribers.active(lid)}
    store.subscribers.set_status(ids["r4@example.org"], "unsubscribed", NOW)
    rows[7] = "r7@example.org,Renamed"
    del rows[2]
    rows.append("new@example.org,N")
    path.write_text("email,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    counts = store.subscribers.sync(lid, read_roster(path).subscribers, NOW)
    assert counts == SyncCounts(added=1, updated=1, removed=1, kept_suppressed=1)
    active = {s.email: s.name for s in store.subscribers.active(lid)}
    assert len(active) == 9 and active["r7@example.org"] == "Renamed"
    assert "r2@example.org" not in active and "r4@example.org" not in active
    assert store.subscribers.status(ids["r2@example.org"]) == "removed"
    assert store.subscribers.sync(lid, read_roster(path).subscribers, NOW) == SyncCounts(
        kept_suppressed=1
    )
    store.close()


ADDRESSES = [
    "reader0000001@example.org", "Mixed.Case+tag@Example.ORG", "a@b.co", "x_y-z@sub.example.co.uk",
    "o'brien@example.ie", "{weird}|~!#$%&*/=?^`@example.com", "Postmaster@example.org",
    "abuse@EXAMPLE.org", "a..b@example.org", ".lead@example.org", "trail.@example.org",
    "no-at-sign.example.org", "@example.org", "local@", "two@at@example.org",
    "a@-bad-.example", "a@exa_mple.org", "a@example", "a@localhost", "a@example.org.",
    "a@.example.org", "a@example..org", "a@123.123.123.123", "a@[127.0.0.1]",
    "zoë@bücher.example", "jörg@example.org", "a@bücher.example", '"quoted"@example.org',
    "sp ace@example.org", "a@example.invalid", "a@example.test", "a@xn--bcher-kva.example",
    "a" * 64 + "@example.org", "a" * 65 + "@example.org", "a" * 240 + "@example.org",
    "a@" + "b" * 63 + ".org", "a@" + "b" * 64 + ".org",
    "a@" + ".".join(["c" * 60] * 4) + ".org", "1@" + ".".join(["d" * 49] * 5),
]  # fmt: skip


@pytest.mark.parametrize("address", ADDRESSES)
def test_the_fast_path_normalizes_as_the_validator_does(address: str) -> None:
    """``normalize_email`` takes a plain address through a cached check of its domain: it
    must give the validator's own answer, normalized address or refusal, for every one."""
    try:
        expected: str | Exception = _validated(address)
    except ValueError as exc:
        expected = exc
    try:
        got: str | Exception = normalize_email(address)
    except ValueError as exc:
        got = exc
    if isinstance(expected, Exception):
        assert isinstance(got, ValueError) and str(got) == str(expected)
    else:
        assert got == expected
