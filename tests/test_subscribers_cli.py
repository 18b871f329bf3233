"""``digest subscribers`` and ``digest suppressions`` through the CLI."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.subscribers.roster import read_roster

BEN = "ben.carter@example.com"
ERIN = "erin.walsh@example.com"


@pytest.fixture
def cli(project: Path) -> Any:
    runner = CliRunner()
    config = str(project / "config.toml")

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(main, ["--config", config, *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def listed(cli: Any) -> dict[str, dict[str, Any]]:
    return {s["email"]: s for s in json.loads(cli("subscribers", "list", "--json").stdout)}


def test_list_and_stats(cli: Any) -> None:
    subs = listed(cli)
    assert len(subs) == 7 and subs[ERIN]["status"] == "unsubscribed"
    assert subs[BEN]["areas"] == ["International Politics", "Security"]
    active = json.loads(cli("subscribers", "list", "--status", "active", "--json").stdout)
    assert {s["email"] for s in active} == {e for e, s in subs.items() if s["status"] == "active"}
    assert "weekly: 7 subscribers" in cli("subscribers", "list").stdout
    stats = json.loads(cli("subscribers", "stats", "--json").stdout)
    assert stats["weekly"]["active"] == 6 and stats["weekly"]["unsubscribed"] == 1
    table = cli("subscribers", "stats").stdout  # a table, as every other command prints
    assert "active" in table and "unsubscribed" in table
    assert re.search(r"│ weekly │ +6 │ +1 │", table)


def test_add_writes_the_roster_and_refuses_to_resubscribe_silently(cli: Any, project: Path) -> None:
    out = cli("subscribers", "add", "New@Example.ORG", "--name", "=cmd|' /C calc'!A0")
    assert "New@example.org: added" in out.stdout  # the domain is lowercased, not the mailbox
    roster = project / "subscribers" / "weekly.csv"
    row = roster.read_text(encoding="utf-8").splitlines()[-1]
    assert row.startswith("New@example.org,'=cmd|")  # formula-safe in the editors' file
    new = {s.email: s for s in read_roster(roster).subscribers}["New@example.org"]
    assert new.name == "=cmd|' /C calc'!A0" and new.source == "cli"
    assert listed(cli)["New@example.org"]["status"] == "active"
    refused = cli("subscribers", "add", ERIN, ok=False)
    assert refused.exit_code != 0 and "--resubscribe" in refused.output


def test_remove_unsubscribes_for_good(cli: Any) -> None:
    assert "unsubscribed from weekly" in cli("subscribers", "remove", BEN).stdout
    assert listed(cli)[BEN]["status"] == "unsubscribed"  # the file still lists BEN as active
    assert cli("subscribers", "remove", "nobody@example.org", ok=False).exit_code != 0


def test_import_never_resubscribes_unless_asked(cli: Any, project: Path, tmp_path: Path) -> None:
    cli("subscribers", "remove", BEN)
    incoming = tmp_path / "signups.csv"
    incoming.write_text(
        "\ufeffemail;name;areas\n"
        f"{BEN};Ben Carter;Security\n"
        "fresh@example.org;Fresh Face;Human Rights\n"
        "broken-address;Nobody;\n",
        encoding="utf-8",
    )
    out = cli("subscribers", "import", str(incoming))
    assert "1 added, 1 already listed, 0 resubscribed, 1 rows skipped" in out.stdout
    assert "signups.csv:4" in out.stderr and f"kept unsubscribed: {BEN}" in out.stderr
    subs = listed(cli)
    assert subs[BEN]["status"] == "unsubscribed" and subs["fresh@example.org"]["status"] == "active"
    again = cli("subscribers", "import", str(incoming), "--resubscribe")
    assert "1 resubscribed" in again.stdout and f"resubscribed {BEN}" in again.stderr
    assert listed(cli)[BEN]["status"] == "active"
    assert "fresh@example.org" in (project / "subscribers" / "weekly.csv").read_text()


def test_reimporting_the_roster_itself_keeps_unsubscribes(cli: Any, project: Path) -> None:
    cli("subscribers", "remove", BEN)
    cli("subscribers", "import", str(project / "subscribers" / "weekly.csv"))
    assert listed(cli)[BEN]["status"] == "unsubscribed"


def test_export_shows_the_databases_truth_and_neutralizes_formulas(
    cli: Any, project: Path, tmp_path: Path
) -> None:
    roster = project / "subscribers" / "weekly.csv"
    with roster.open("a", encoding="utf-8") as f:
        f.write('eve@example.org,"=HYPERLINK(""http://x"")",,active,,\n')
        f.write("mal@example.org,+1+2,,active,,@import\n")
        f.write('tab@example.org,"\tTab",,active,,-x\n')
    cli("suppressions", "add", "grace.lee@example.net", "--reason", "complained")
    cli("subscribers", "remove", BEN)
    text = cli("subscribers", "export").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [
        "email",
        "name",
        "areas",
        "status",
        "subscribed_at",
        "source",
        "timezone",
    ]
    by = {r["email"]: r for r in rows}
    assert (
        by[BEN]["status"] == "unsubscribed"
        and by["grace.lee@example.net"]["status"] == "complained"
    )
    assert by[ERIN]["status"] == "unsubscribed"
    assert by["eve@example.org"]["name"] == '\'=HYPERLINK("http://x")'
    assert (
        by["mal@example.org"]["name"] == "'+1+2" and by["mal@example.org"]["source"] == "'@import"
    )
    assert by["tab@example.org"]["name"] == "Tab" or by["tab@example.org"]["name"] == "'\tTab"
    assert by["tab@example.org"]["source"] == "'-x"
    for r in rows:
        for cell in r.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    out = tmp_path / "export.csv"
    cli("subscribers", "export", "--out", str(out))
    back = {s.email: s for s in read_roster(out).subscribers}  # the export reads back in
    assert back["eve@example.org"].name == '=HYPERLINK("http://x")'
    assert back[BEN].status == "unsubscribed" and len(back) == len(rows)


def test_suppressions_list_add_remove(cli: Any) -> None:
    out = cli("suppressions", "add", BEN, "--reason", "bounced", "--note", "hard bounce").stdout
    assert "bounced on all lists" in out
    data = json.loads(cli("suppressions", "list", "--json").stdout)
    assert data[0]["email"] == BEN and data[0]["reason"] == "bounced" and data[0]["list"] is None
    assert listed(cli)[BEN]["status"] == "bounced"
    assert "1 suppression lifted" in cli("suppressions", "remove", BEN).stdout
    assert listed(cli)[BEN]["status"] == "active"
    assert json.loads(cli("suppressions", "list", "--json").stdout) == []
    bad = cli("suppressions", "add", "not-an-address", ok=False)
    assert bad.exit_code != 0
