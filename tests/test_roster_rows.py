"""Roster rows from strangers, through the real CLI: names and addresses that would break a
header or add recipients, misspelt areas and duplicates are each reported once, by file, line
and field; the rest of the list imports and is sent to."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .cli_helpers import cli_env, run_digest
from .conftest import needs_shared

ENV = cli_env(DIGEST_SIGNING_KEY="test-signing-key-0123456789abcdef")
BEN = "ben.carter@example.com"
BAD_ROWS = (
    '"nl@example.org","Line\nBreak",,active,,\n'  # lines 9-10: a quoted cell with a newline
    '"cr@example.org","Carriage\rReturn",,active,,\n'  # 11-12: a lone CR counts as a line
    "bell@example.org,Ding\x07Dong,,active,,\n"  # 13
    "rtl@example.org,Ann\u202egnp.exe,,active,,\n"  # 14
    '"two@example.org, boss@example.org",Two,,active,,\n'  # 15
    "Boss <boss@example.org>,Boss,,active,,\n"  # 16
    f"{BEN},Ben Again,Security,active,2025-01-01,import\n"  # 17
    "zed@example.org,Zed,Foregn Affairs,active,,\n"  # 18
    "yan@example.org,Yan,Securty;Human Rights,active,,\n"  # 19
)


def reported(stderr: str) -> list[str]:
    """The warning lines (rich may wrap a long one; joined back by the path that starts each)."""
    flat = " ".join(stderr.split())
    return re.findall(r"warning: (\S+?\.csv:\d+): (.*?)(?= warning: |$)", flat)


def listed(project: Path) -> dict[str, dict[str, object]]:
    result = run_digest(project, "subscribers", "list", "--json", env=ENV)
    assert result.returncode == 0, result.stderr
    return {s["email"]: s for s in json.loads(result.stdout)}


def test_bad_rows_are_reported_once_each_and_the_rest_is_sent(project: Path) -> None:
    needs_shared()  # counts on the sample post from ../shared
    roster = project / "subscribers" / "weekly.csv"
    with roster.open("a", encoding="utf-8", newline="") as f:
        f.write(BAD_ROWS)
    result = run_digest(project, "run", env=ENV)
    assert result.returncode == 0, result.stderr
    rows = reported(result.stderr)
    where = [w for w, _ in rows]
    assert where == [f"{roster}:{n}" for n in (9, 11, 13, 14, 15, 16, 17, 18, 19)]  # once each
    why = {w.rsplit(":", 1)[1]: message for w, message in rows}
    assert why["9"] == "name: contains a line break (U+000A LF); row skipped"
    assert why["11"] == "name: contains a line break (U+000D CR); row skipped"
    assert why["13"] == "name: contains a control character (U+0007); row skipped"
    assert why["14"] == (
        "name: contains a control character (U+202E RIGHT-TO-LEFT OVERRIDE); row skipped"
    )
    assert "contains ','; an address must be one mailbox; row skipped" in why["15"]
    assert why["16"].startswith("invalid email 'Boss <boss@example.org>'")
    assert why["17"] == (
        f"duplicates line 3 ({BEN}): kept line 3, taking its earlier subscribed_at 2025-01-01"
    )
    assert why["18"] == (
        "areas: unknown area 'Foregn Affairs' (did you mean 'Foreign Affairs'?); imported "
        "without it (with no known area left, this reader gets every section)"
    )
    assert why["19"] == (
        "areas: unknown area 'Securty' (did you mean 'Security'?); imported without it"
    )
    assert "weekly: issue 1 sent: accepted 8" in result.stdout  # 6 good rows + Zed + Yan

    eml = {p.name.split("-", 1)[1][:-4]: p for p in (project / "outbox").rglob("*.eml")}
    assert set(eml) >= {"zed@example.org", "yan@example.org", BEN}
    assert not set(eml) & {"nl@example.org", "cr@example.org", "two@example.org"}
    zed = eml["zed@example.org"].read_bytes()
    assert b"13 posts" in zed  # the whole issue, never an empty one

    subs = listed(project)
    ben = subs[BEN]
    assert (ben["name"], ben["subscribed_at"], ben["source"]) == (
        "Ben Carter",
        "2025-01-01",
        "website",
    )
    assert ben["areas"] == ["International Politics", "Security"]
    assert subs["zed@example.org"]["areas"] == []
    assert subs["yan@example.org"]["areas"] == ["Human Rights"]


def test_import_checks_each_row_and_counts_what_it_skipped(project: Path, tmp_path: Path) -> None:
    signups = tmp_path / "signups.csv"
    signups.write_text(
        "email,name,areas,subscribed_at\n"
        "ok@example.org,Okay,Foreign Policy,2026-05-01\n"  # 2: an alias is fine
        '"nl@example.org","Two\nLines",,\n'  # 3-4
        "zed@example.org,Zed,Foregn Affairs,\n"  # 5
        "ok@example.org,Okay Later,,2026-01-01\n"  # 6
        "[red]x@y[/red],Markup,,\n",  # 7: printed as written, not as terminal markup
        encoding="utf-8",
    )
    result = run_digest(project, "subscribers", "import", str(signups), env=ENV)
    assert result.returncode == 0, result.stderr
    assert "weekly: 2 added, 0 already listed, 0 resubscribed, 2 rows skipped" in result.stdout
    rows = reported(result.stderr)
    assert [w for w, _ in rows] == [f"{signups}:{n}" for n in (3, 5, 6, 7)]
    assert rows[3][1].startswith("invalid email '[red]x@y[/red]'")
    assert "did you mean 'Foreign Affairs'?" in rows[1][1]
    assert "duplicates line 2 (ok@example.org): kept line 2" in rows[2][1]
    text = (project / "subscribers" / "weekly.csv").read_text(encoding="utf-8")
    assert "ok@example.org,Okay,Foreign Policy,active,2026-01-01,\n" in text
    assert "zed@example.org,Zed,,active,," in text and "nl@example.org" not in text


def test_add_refuses_an_unknown_area_or_a_broken_name(project: Path) -> None:
    roster = project / "subscribers" / "weekly.csv"
    before = roster.read_bytes()
    typo = run_digest(
        project, "subscribers", "add", "new@example.org", "--areas", "Foregn Affairs", env=ENV
    )
    assert typo.returncode != 0
    assert "unknown area 'Foregn Affairs' (did you mean 'Foreign Affairs'?)" in " ".join(
        typo.stderr.split()
    )
    broken = run_digest(
        project, "subscribers", "add", "new@example.org", "--name", "New\r\nBcc: x@evil.example"
    )
    assert broken.returncode != 0 and "name: contains a line break (U+000D CR)" in broken.stderr
    many = run_digest(project, "subscribers", "add", "a@example.org,b@example.org", env=ENV)
    assert many.returncode != 0
    assert roster.read_bytes() == before  # nothing written
    fine = run_digest(project, "subscribers", "add", "new@example.org", "--areas", "IR", env=ENV)
    assert fine.returncode == 0, fine.stderr
    assert listed(project)["new@example.org"]["areas"] == ["IR"]
