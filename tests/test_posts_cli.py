"""Every editors' control, through the CLI, and its effect on the next build."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from digest.cli import main


@pytest.fixture
def cli(project: Path) -> Any:
    runner = CliRunner()
    config = str(project / "config.toml")

    def run(*args: str) -> Any:
        result = runner.invoke(main, ["--config", config, *args], catch_exceptions=False)
        return result

    assert run("collect").exit_code == 0
    return run


def build(cli: Any) -> dict[str, Any]:
    result = cli("build", "--list", "weekly", "--json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def find(issue: dict[str, Any], title_part: str) -> tuple[str, dict[str, Any]]:
    for section in issue["sections"]:
        for post in section["posts"]:
            if title_part in post["title"]:
                return section["area"], post
    raise AssertionError(f"{title_part!r} not in the issue")


def post_id(cli: Any, title_part: str) -> int:
    listed = json.loads(cli("posts", "list", "--json").output)
    return next(int(p["id"]) for p in listed if title_part in p["title"])


def test_list_shows_the_coming_issue(cli: Any) -> None:
    listed = json.loads(cli("posts", "list", "--json").output)
    assert len(listed) >= 12
    table = cli("posts", "list").output
    assert "coming issue" in table and "WTO" in table


def test_set_summary_override_wins_and_clears(cli: Any, tmp_path: Path) -> None:
    pid = post_id(cli, "WTO")
    auto = find(build(cli), "WTO")[1]["summary"]
    assert cli("posts", "set-summary", str(pid), "An editor's  summary.").exit_code == 0
    assert find(build(cli), "WTO")[1]["summary"] == "An editor's summary."
    file = tmp_path / "s.txt"
    file.write_text("From a\nfile.\n", encoding="utf-8")
    assert cli("posts", "set-summary", str(pid), "--file", str(file)).exit_code == 0
    assert find(build(cli), "WTO")[1]["summary"] == "From a file."
    assert cli("posts", "set-summary", str(pid), "--clear").exit_code == 0
    assert find(build(cli), "WTO")[1]["summary"] == auto
    listed = cli("posts", "list").output
    assert "summary edited" not in listed


def test_exclude_and_include(cli: Any) -> None:
    pid = post_id(cli, "Arctic")
    assert cli("posts", "exclude", str(pid)).exit_code == 0
    with pytest.raises(AssertionError):
        find(build(cli), "Arctic")
    assert "excluded" in cli("posts", "list").output
    assert cli("posts", "include", str(pid)).exit_code == 0
    find(build(cli), "Arctic")


def test_pin_puts_a_post_first_in_its_section(cli: Any) -> None:
    issue = build(cli)
    section = next(s for s in issue["sections"] if len(s["posts"]) > 1)
    last = section["posts"][-1]
    assert cli("posts", "pin", str(last["id"])).exit_code == 0
    again = next(s for s in build(cli)["sections"] if s["area"] == section["area"])
    assert again["posts"][0]["id"] == last["id"]
    assert cli("posts", "unpin", str(last["id"])).exit_code == 0
    again = next(s for s in build(cli)["sections"] if s["area"] == section["area"])
    assert again["posts"][-1]["id"] == last["id"]


def test_set_area_moves_the_post_and_keeps_tags(cli: Any) -> None:
    pid = post_id(cli, "WTO")
    assert find(build(cli), "WTO")[0] == "Economic Development"
    assert cli("posts", "set-area", str(pid), "human rights").exit_code == 0
    area, post = find(build(cli), "WTO")
    assert area == "Human Rights"
    assert post["areas"] == ["Human Rights", "Economic Development"]
    assert post["area_source"] == "editor"


def test_every_change_is_recorded_with_time(cli: Any, project: Path) -> None:
    from digest.config.load import load_settings
    from digest.store import Store

    pid = post_id(cli, "WTO")
    cli("posts", "pin", str(pid))
    cli("posts", "set-area", str(pid), "IR")
    store = Store(load_settings(project / "config.toml").database.url)
    edits = store.posts.edits(pid)
    assert [(a, v) for a, v, _, _ in edits] == [
        ("pin", None),
        ("set-area", "International Politics"),
    ]
    assert all(actor and at.tzinfo is not None for _, _, actor, at in edits)


def test_unknown_post_is_a_clear_error(cli: Any) -> None:
    result = cli("posts", "pin", "99999")
    assert result.exit_code == 3
    assert "no post with id 99999" in result.output
