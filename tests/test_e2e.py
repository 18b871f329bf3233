"""The CLI end to end on a temporary copy of the defaults, as a newcomer runs it."""

from __future__ import annotations

import email
import json
import subprocess
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from .cli_helpers import run_digest
from .conftest import needs_shared
from .email_helpers import TOKEN
from .test_headers import raw_headers


def digest(project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_digest(project, *args, stdin=stdin)


def messages(project: Path) -> list[EmailMessage]:
    files = sorted((project / "outbox").glob("weekly/*/*.eml"))
    return [
        email.message_from_bytes(f.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for f in files
    ]


def test_run_delivers_once_per_active_subscriber_and_never_twice(project: Path) -> None:
    needs_shared()
    first = digest(project, "run")
    assert first.returncode == 0, first.stderr
    assert "outbox at" in first.stdout
    sent = messages(project)
    roster = (project / "subscribers" / "weekly.csv").read_text(encoding="utf-8").splitlines()[1:]
    active = [row.split(",")[0] for row in roster if row.split(",")[3] == "active"]
    everything = {row.split(",")[0] for row in roster if not row.split(",")[2]}
    assert sorted(str(m["To"].addresses[0].addr_spec) for m in sent) == sorted(active)
    for msg in sent:
        assert msg.get_content_type() == "multipart/alternative"
        text, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert text is not None and html is not None
        html_body = html.get_content()
        assert len(html_body.encode("utf-8")) < 102_000
        unsubscribe = msg["List-Unsubscribe"]
        assert unsubscribe.startswith("<https://digest.example.org/unsubscribe/")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        url = unsubscribe.strip("<>").split(">")[0]
        assert f'href="{url}"' in html_body  # a visible unsubscribe link, per recipient
    for path in (project / "outbox").glob("weekly/*/*.eml"):  # and undecoded, as clients read it
        raw = raw_headers(path.read_bytes())["List-Unsubscribe"]
        assert raw.startswith("<https://digest.example.org/unsubscribe/") and "=?" not in raw
        assert "1 Example Plaza" in html_body and "1 Example Plaza" in text.get_content()
        assert msg["To"].addresses[0].addr_spec in text.get_content()
        assert "NATO Warms to Russia" in html_body  # a section of its own, or "Also this week"
        if msg["To"].addresses[0].addr_spec in everything:
            # NATO Warms to Russia by David Kampf sits in the International Politics section
            ip = html_body.index('id="s-international-politics"')  # the heading, not the TOC
            nato = html_body.index("NATO Warms to Russia", ip)
            next_section = html_body.index('id="s-foreign-affairs"')
            assert ip < nato < next_section
            assert "David Kampf" in html_body[nato : nato + 2000]
        assert not TOKEN.search(html_body) and not TOKEN.search(text.get_content())
    # a subscriber with area preferences gets only those sections, then the rest as titles
    ben = next(m for m in sent if m["To"].addresses[0].addr_spec == "ben.carter@example.com")
    ben_text = ben.get_body(("plain",)).get_content()
    sections = [line[4:] for line in ben_text.splitlines() if line.startswith("  * ")]
    assert [s.rsplit(" (", 1)[0] for s in sections] == ["International Politics", "Security"]
    assert "Also this week" in ben_text and "Carbon Border Tax" in ben_text
    assert (project / "archive" / "weekly" / "1.html").exists()  # the web version
    second = digest(project, "run")
    assert second.returncode == 0, second.stderr
    assert "already sent" in second.stdout and "nothing sent" in second.stdout
    assert len(messages(project)) == len(sent)


def test_collect_json_build_json_and_out(project: Path, tmp_path: Path) -> None:
    collected = digest(project, "collect", "--json")
    assert collected.returncode == 0, collected.stderr
    data = json.loads(collected.stdout)
    assert data["errors"] == []
    post = next(
        p
        for p in data["posts"]
        if p["title"] == "Europe's Carbon Border Tax Meets Its First Real Test"
    )
    assert set(post) >= {"source", "title", "url", "author", "areas", "published", "collected_at"}
    assert post["published"] is None  # the file carries no date: never the collection time
    assert post["collected_at"][-6] in "+-"  # ISO 8601 with an offset
    built = digest(project, "build", "--list", "weekly", "--json", "--out", str(tmp_path / "b"))
    assert built.returncode == 0, built.stderr
    issue = json.loads(built.stdout)
    assert set(issue) >= {"list", "issue", "window", "subject", "sections", "html_bytes"}
    assert issue["list"] == "weekly" and issue["issue"] == 1
    assert set(issue["window"]) == {"start", "end"}
    areas = [s["area"] for s in issue["sections"]]
    assert areas[:2] == ["International Politics", "Foreign Affairs"]
    carbon = next(p for s in issue["sections"] for p in s["posts"] if "Carbon" in p["title"])
    assert carbon["areas"] == ["Climate & Energy"] and carbon["area_source"] == "author"
    for s in issue["sections"]:
        for p in s["posts"]:
            assert set(p) >= {"title", "url", "author", "areas", "summary"}
            assert 0 < len(p["summary"].split()) <= 60
    for name in ("email.html", "email.txt", "email.mjml"):
        assert (tmp_path / "b" / name).stat().st_size > 0
    assert (tmp_path / "b" / "email.html").stat().st_size == issue["html_bytes"]


def test_dry_run_sends_nothing(project: Path) -> None:
    digest(project, "collect")
    result = digest(project, "send", "--list", "weekly", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would send issue 1 to 6 recipients" in result.stdout
    assert not (project / "outbox").exists()


def test_user_errors_are_one_line_without_traceback(project: Path) -> None:
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8").replace("max_words = 60", "max_wrds = 60")
    config.write_text(text, encoding="utf-8")
    result = digest(project, "run")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "summary.max_wrds: unknown key" in result.stderr
    assert str(config) in result.stderr
    missing = digest(project, "--config", str(project / "nope.toml"), "run")
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_bad_subscriber_row_is_reported_and_others_still_get_mail(project: Path) -> None:
    roster = project / "subscribers" / "weekly.csv"
    roster.write_text(
        roster.read_text(encoding="utf-8") + "not an email,Broken Row,,active,,\n", encoding="utf-8"
    )
    result = digest(project, "run")
    assert result.returncode == 0, result.stderr
    assert f"{roster}:9" in result.stderr and "invalid email" in result.stderr
    assert len(messages(project)) == 6


def test_summarize_jsonl(project: Path) -> None:
    lines = [
        json.dumps({"id": "a", "title": "T", "text": "One sentence here. Another one there."}),
        "not json",
        json.dumps({"id": 2, "text": "Short text."}),
    ]
    result = digest(project, "summarize", "--jsonl", stdin="\n".join(lines) + "\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", 2]
    assert out[1]["summary"] == "Short text."
    assert "stdin:2" in result.stderr and result.returncode == 1


@pytest.mark.parametrize("command", [["build", "--list", "nope"], ["send", "--list", "nope"]])
def test_unknown_list(project: Path, command: list[str]) -> None:
    result = digest(project, *command)
    assert result.returncode != 0 and "no list named 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
