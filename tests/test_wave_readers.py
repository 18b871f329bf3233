"""Readers' time zones: the roster column with a did-you-mean, ``subscribers add --timezone``,
the preferences page, and what ``schedule show``, ``runs`` and ``issues show`` say per wave."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner

from digest.cli import main
from digest.config.load import load_settings
from digest.store import Store
from digest.subscribers.roster import read_roster

from .desk_setup import open_desk
from .test_wave_sends import KATHMANDU, TOKYO, dispatch, setup
from .test_waves import deliver_locally, local_list
from .web_setup import NOW, open_site

BEN = "ben.carter@example.com"


def cli(project: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--config", str(project / "config.toml"), *args])


def test_unknown_zones_are_reported_per_row_with_the_nearest_name(tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text(
        "email,name,timezone\n"
        "a@example.org,A,Asia/Tokyo\n"
        "b@example.org,B,europe/berlin\n"
        "c@example.org,C,America/New_Yrok\n"
        "d@example.org,D,Mars/Olympus\n",
        encoding="utf-8",
    )
    read = read_roster(roster)
    assert [s.timezone for s in read.subscribers] == ["Asia/Tokyo", None, None, None]
    problems = [str(p) for p in read.problems]
    assert problems == [
        f"{roster}:3: timezone: unknown time zone 'europe/berlin' (did you mean "
        "'Europe/Berlin'?); imported without it (the list's zone applies)",
        f"{roster}:4: timezone: unknown time zone 'America/New_Yrok' (did you mean "
        "'America/New_York'?); imported without it (the list's zone applies)",
        f"{roster}:5: timezone: unknown time zone 'Mars/Olympus' (expected e.g. "
        "'Europe/Berlin'); imported without it (the list's zone applies)",
    ]
    assert not any(p.skipped for p in read.problems)  # the reader is kept, in the list's zone


def test_subscribers_add_timezone(project: Path) -> None:
    bad = cli(project, "subscribers", "add", "new@example.org", "--timezone", "Asia/Tokio")
    assert bad.exit_code != 0 and "did you mean 'Asia/Tokyo'?" in bad.output
    roster = project / "subscribers" / "weekly.csv"
    assert "new@example.org" not in roster.read_text(encoding="utf-8")  # nothing added
    ok = cli(project, "subscribers", "add", "new@example.org", "--timezone", "Asia/Tokyo")
    assert ok.exit_code == 0, ok.output
    read = read_roster(roster)
    assert not read.problems
    zones = {s.email: s.timezone for s in read.subscribers}
    assert zones["new@example.org"] == "Asia/Tokyo" and zones[BEN] is None
    store = Store(load_settings(project / "config.toml").database.url)
    row = store.subscribers.find(store.subscribers.list_id("weekly"), "new@example.org")
    assert row is not None and row.timezone == "Asia/Tokyo"


def test_readers_choose_their_zone_on_the_preferences_page(
    project: Path, live_server: Callable[[Any], str]
) -> None:
    deliver_locally(project)
    site = open_site(project, live_server)
    url = f"{site.url}/preferences/{site.token(BEN)}"
    page = httpx.get(url).text
    assert "Your time zone" in page and "The list's time zone (America/New_York)" in page
    assert '<option value="Asia/Kathmandu">' in page

    def zone() -> str | None:
        list_id = site.store.subscribers.list_id("weekly")
        row = site.store.subscribers.find(list_id, BEN)
        assert row is not None
        return row.timezone

    wrong = httpx.post(url, data={"action": "timezone", "timezone": "Asia/Kathmando"})
    assert wrong.status_code == 400 and "did you mean" in wrong.text and zone() is None
    saved = httpx.post(url, data={"action": "timezone", "timezone": "Asia/Kathmandu"})
    assert saved.status_code == 200 and zone() == "Asia/Kathmandu"
    assert '<option value="Asia/Kathmandu" selected>' in saved.text
    # a roster sync keeps the reader's own choice
    list_id = site.store.subscribers.list_id("weekly")
    subs = read_roster(project / "subscribers" / "weekly.csv").subscribers
    site.store.subscribers.sync(list_id, subs, NOW)
    assert zone() == "Asia/Kathmandu"
    cleared = httpx.post(url, data={"action": "timezone", "timezone": ""})
    assert cleared.status_code == 200 and zone() is None


def test_schedule_show_runs_and_issues_show_per_wave(project: Path) -> None:
    pipeline, clock = setup(project)
    dispatch(pipeline, clock, TOKYO)
    dispatch(pipeline, clock, KATHMANDU)
    shown = json.loads(cli(project, "schedule", "show", "--json").output)
    (weekly,) = shown["lists"]
    assert weekly["deliver"] == "local"
    assert weekly["waves"] and all("utc" in w and w["local"] for w in weekly["waves"])
    assert {w["readers"] for w in weekly["waves"]} <= {0, 1, 2}
    table = cli(project, "schedule", "show").output
    assert "coming waves" in table and "Asia/Tokyo" in table

    runs = json.loads(cli(project, "runs", "--json").output)
    waves = {r["wave"]: (r["outcome"], r["counts"]) for r in runs if r["wave"]}
    assert waves == {
        TOKYO.isoformat(): ("sent", {"accepted": 2}),
        KATHMANDU.isoformat(): ("sent", {"accepted": 1}),
    }
    issue = json.loads(cli(project, "issues", "show", "1", "--json").output)
    assert [(w["utc"], w["outcome"]) for w in issue["waves"]] == [
        ("2026-11-29T22:00:00+00:00", "sent"),
        ("2026-11-30T01:15:00+00:00", "sent"),
        ("2026-11-30T12:00:00+00:00", "coming"),
        ("2026-11-30T18:00:00+00:00", "coming"),
    ]
    text = cli(project, "issues", "show", "1").output
    assert "wave 2026-11-29T22:00:00+00:00 [Asia/Tokyo 07:00]: sent accepted 2" in text


def test_the_desk_shows_the_wave_plan_and_approval_deadline(
    project: Path, live_server: Callable[[Any], str]
) -> None:
    readers = {"tokyo@example.org": "Asia/Tokyo", "nyc@example.org": ""}
    local_list(project, "0 7 * * 1", "America/New_York", readers, approval="required")
    site = open_desk(project, live_server)
    with site.client() as client:
        page = client.get("/lists/weekly").text
    block = page.split('<section class="waves"', 1)[1].split("</section>", 1)[0]
    # the desk's clock is Friday 27 November: the coming Monday's waves, Tokyo's first
    assert "approval is due at the first wave" in block
    assert '<time datetime="2026-11-29T22:00:00+00:00">' in block.split("<table>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(\d+)</td><td>(\w+)</td></tr>", block)
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("Asia/Tokyo 07:00", "1", "coming"),
        ("America/New_York 07:00", "1", "coming"),
    ]


def test_the_option_close_time_and_what_readers_see_are_documented() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "**delivery in each reader's time zone**" in readme and "--wave TIME" in readme
    config = (root / "docs" / "config.md").read_text(encoding="utf-8")
    assert '| `deliver` | string | `"list"` |' in config and "`timezone` (the reader's" in config
    delivery = (root / "docs" / "delivery.md").read_text(encoding="utf-8")
    section = delivery.split("## Delivery in each reader's time zone", 1)[1].split("\n## ", 1)[0]
    for part in ("**The close time.**", "**What readers see.**", "does not exist", "twice"):
        assert part in section
    assert "--timezone ZONE" in (root / "docs" / "subscribers.md").read_text(encoding="utf-8")
    assert "--wave TIME" in (root / "docs" / "operations.md").read_text(encoding="utf-8")
