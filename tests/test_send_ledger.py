"""One bad recipient fails alone; a refused key stops the send as a configuration error;
failed recipients can be retried; unknowns are listed and resolved per recipient (CLI)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from digest.delivery.reasons import recipient_problem, transient

from .cli_helpers import cli_env, run_digest
from .databases import project_url
from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend, write_roster
from .fake_sendgrid import Action, FakeSendGrid
from .smtp_relay import KillingRelay, start_relay

EVE, MALLORY = "reader00003@example.org", "reader00007@example.org"
HOSTILE_NAME = "Eve\nBcc: victim@evil.example"
HOSTILE_EMAIL = "reader00007@example.org\r\nBcc: victim@evil.example"


def digest(
    project: Path, *args: str, key: str = API_KEY, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = cli_env(SENDGRID_API_KEY=key, DIGEST_SIGNING_KEY=SIGNING_KEY)
    return run_digest(project, *args, env=env, stdin=stdin)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(API_KEY) as server:
        yield server


@pytest.fixture
def relay() -> Iterator[KillingRelay]:
    handler, controller = start_relay()
    handler.port = controller.port  # type: ignore[attr-defined]
    yield handler
    controller.stop()


def hostile_rows(project: Path) -> None:
    """Give two subscribers a CRLF name and address straight in the database, as a legacy or
    tampered row would be; triggers keep them so whatever the roster import accepts."""
    url = project_url(project)
    engine = create_engine(url)
    with engine.begin() as db:
        if engine.dialect.name == "sqlite":
            name = HOSTILE_NAME.replace("\n", "' || char(10) || '")
            email = HOSTILE_EMAIL.replace("\r\n", "' || char(13, 10) || '")
            db.exec_driver_sql(
                f"""CREATE TRIGGER eve AFTER UPDATE ON subscribers WHEN NEW.email = '{EVE}'
                    AND NEW.name <> '{name}'
                BEGIN UPDATE subscribers SET name = '{name}' WHERE id = NEW.id; END"""
            )
            db.exec_driver_sql(
                f"""CREATE TRIGGER mallory AFTER INSERT ON deliveries WHEN NEW.email = '{MALLORY}'
                BEGIN UPDATE deliveries SET email = '{email}' WHERE id = NEW.id; END"""
            )
        else:  # PostgreSQL: the same rows through plpgsql triggers
            name = HOSTILE_NAME.replace("\n", "' || chr(10) || '")
            email = HOSTILE_EMAIL.replace("\r\n", "' || chr(13) || chr(10) || '")
            db.exec_driver_sql(
                f"""CREATE FUNCTION eve() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF NEW.email = '{EVE}' THEN NEW.name := '{name}'; END IF; RETURN NEW; END $$"""
            )
            db.exec_driver_sql(
                "CREATE TRIGGER eve BEFORE UPDATE ON subscribers "
                "FOR EACH ROW EXECUTE FUNCTION eve()"
            )
            db.exec_driver_sql(
                f"""CREATE FUNCTION mallory() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF NEW.email = '{MALLORY}' THEN NEW.email := '{email}'; END IF;
                RETURN NEW; END $$"""
            )
            db.exec_driver_sql(
                "CREATE TRIGGER mallory BEFORE INSERT ON deliveries "
                "FOR EACH ROW EXECUTE FUNCTION mallory()"
            )
        db.exec_driver_sql(f"UPDATE subscribers SET name = 'x' WHERE email = '{EVE}'")
    engine.dispose()


def ledger(project: Path) -> dict[str, tuple[str, str | None]]:
    engine = create_engine(project_url(project))
    with engine.connect() as db:
        rows = db.exec_driver_sql("SELECT email, status, error FROM deliveries").all()
    engine.dispose()
    return {e: (s, r) for e, s, r in rows}


@pytest.mark.parametrize("backend", ["outbox", "smtp", "sendgrid"])
def test_one_bad_recipient_fails_alone_and_the_rest_are_sent(
    project: Path, backend: str, fake: FakeSendGrid, relay: KillingRelay
) -> None:
    emails = write_roster(project, 60)
    if backend == "smtp":
        port = relay.port  # type: ignore[attr-defined]
        use_backend(project, "smtp", host="127.0.0.1", port=port, security="none", batch_size=50)
    elif backend == "sendgrid":
        use_backend(project, "sendgrid", host=fake.url, batch_size=50)
    assert digest(project, "send", "--list", "weekly", "--dry-run").returncode == 0
    hostile_rows(project)
    assert digest(project, "collect").returncode == 0
    sent = digest(project, "send", "--list", "weekly")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    state = ledger(project)
    assert state[EVE][0] == "failed" and "line break" in (state[EVE][1] or "")
    assert state[HOSTILE_EMAIL][0] == "failed" and "not an address" in (
        state[HOSTILE_EMAIL][1] or ""
    )
    good = set(emails) - {EVE, MALLORY}
    assert {e for e, (s, _) in state.items() if s == "accepted"} == good
    assert "failed 1: invalid recipient" in sent.stdout
    if backend == "smtp":
        assert set(relay.received) == good and set(relay.received.values()) == {1}
        assert not any(b"victim@evil.example" in raw for _, raw in relay.messages)
    elif backend == "sendgrid":
        assert set(fake.received) == good and fake.violations == []
    else:
        files = list((project / "outbox" / "weekly").glob("*/*.eml"))
        assert len(files) == len(good)
        assert not any(b"victim@evil.example" in f.read_bytes() for f in files)


def test_a_refused_key_stops_at_once_as_a_configuration_error_and_resumes(
    project: Path, fake: FakeSendGrid
) -> None:
    emails = write_roster(project, 40)
    use_backend(project, "sendgrid", host=fake.url, batch_size=10, workers=2)
    assert digest(project, "collect").returncode == 0
    refused = digest(project, "send", "--list", "weekly", key="SG.wrong-key-do-not-echo")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "sendgrid" in refused.stderr and "$SENDGRID_API_KEY" in refused.stderr
    assert "SG.wrong-key-do-not-echo" not in refused.stdout + refused.stderr
    assert {s for s, _ in ledger(project).values()} == {"planned"}  # nobody marked failed
    assert fake.received == {} and fake.answers[401] <= 2  # stopped at once
    resumed = digest(project, "send", "--list", "weekly")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert sorted(fake.received) == emails and set(fake.received.values()) == {1}


def test_retry_failed_sends_once_more_to_transient_failures_only(
    project: Path, fake: FakeSendGrid
) -> None:
    emails = write_roster(project, 30)
    use_backend(project, "sendgrid", host=fake.url, batch_size=10, workers=1)
    assert digest(project, "send", "--list", "weekly", "--dry-run").returncode == 0
    hostile_rows(project)
    assert digest(project, "collect").returncode == 0
    fake.script("ok", Action("400", errors=({"message": "temporarily bad", "field": None},)))
    sent = digest(project, "send", "--list", "weekly")
    assert sent.returncode == 0 and "failed 10: SendGrid 400: temporarily bad" in sent.stdout
    first = set(fake.received)
    retried = digest(project, "send", "--list", "weekly", "--retry-failed")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    state = ledger(project)
    failed = {e for e, (s, _) in state.items() if s == "failed"}
    assert failed == {EVE, HOSTILE_EMAIL}  # invalid rows are permanent: not retried
    assert set(fake.received) == set(emails) - {EVE, MALLORY}
    assert set(fake.received.values()) == {1} and len(set(fake.received) - first) == 10
    again = digest(project, "send", "--list", "weekly", "--retry-failed")
    assert again.returncode == 0 and set(fake.received.values()) == {1}
    shown = json.loads(digest(project, "issues", "show", "1", "--json").stdout)
    assert shown["status"] == "sent" and shown["counts"]["failed"] == 2


@pytest.mark.parametrize(
    ("reason", "can_change"),
    [
        ("SendGrid 401: bad API key", True),  # failed rows left by versions before the abort
        ("SendGrid 429: too many requests", True),
        ("SendGrid 503: unavailable", True),
        ("SMTP 451: 4.7.1 try later", True),
        ("SMTP relay 127.0.0.1:25 unreachable", True),
        ("connection refused", True),
        ("SMTP 550: 5.1.1 no such user", False),
        ("invalid recipient: the name holds a line break or control character", False),
        ("personalization over 10 KB", False),
        ("", False),
    ],
)
def test_which_failures_can_change(reason: str, can_change: bool) -> None:
    assert transient(reason) is can_change


def test_unknowns_are_listed_and_resolved_per_recipient(
    project: Path, fake: FakeSendGrid, tmp_path: Path
) -> None:
    write_roster(project, 30)
    use_backend(project, "sendgrid", host=fake.url, batch_size=10, workers=1)
    assert digest(project, "collect").returncode == 0
    fake.script("ok", "drop")
    assert digest(project, "send", "--list", "weekly").returncode == 1
    data = json.loads(digest(project, "issues", "show", "1", "--json").stdout)
    unknown = [r["email"] for r in data["unknown_recipients"]]
    assert len(unknown) == 10 and len({r["chunk"] for r in data["unknown_recipients"]}) == 1
    shown = digest(project, "issues", "show", "1").stdout
    assert all(e in shown for e in unknown)
    stranger = digest(
        project, "send", "--list", "weekly", "--resolve-unknown", "skip",
        "--recipients", "reader00001@example.org", "--yes",
    )  # fmt: skip
    assert stranger.returncode == 2 and "not in an unknown state" in stranger.stderr
    listed = tmp_path / "went-out.txt"
    listed.write_text("\n".join(unknown[:4]) + "\n", encoding="utf-8")
    skipped = digest(
        project, "send", "--list", "weekly", "--resolve-unknown", "skip",
        "--recipients", f"@{listed}", "--yes",
    )  # fmt: skip
    assert "4 recipients marked skipped" in skipped.stdout, skipped.stdout + skipped.stderr
    resent = digest(
        project, "send", "--list", "weekly", "--resolve-unknown", "resend",
        "--recipients", ",".join(unknown[4:]), "--yes",
    )  # fmt: skip
    assert resent.returncode == 0, resent.stdout + resent.stderr
    state = ledger(project)
    assert {e for e, (s, _) in state.items() if s == "skipped"} == set(unknown[:4])
    assert {e for e, n in fake.received.items() if n == 2} == set(unknown[4:])


@pytest.mark.parametrize(
    ("email", "name", "bad"),
    [
        ("reader@example.org", "Zoë\xa0Kim, PhD", False),
        ("élise@exemple.fr", "", False),
        ("reader@example.org", "Eve\r\nBcc: victim@evil.example", True),
        ("reader@example.org\nBcc: x@y.org", "", True),
        ("a b@example.org", "", True),
        ("a@b@example.org", "", True),
        ("reader@localhost", "", True),
        ("<reader@example.org>", "", True),
    ],
)
def test_which_rows_cannot_be_made_into_a_message(email: str, name: str, bad: bool) -> None:
    assert (recipient_problem(email, name) is not None) is bad
