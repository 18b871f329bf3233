"""Operations without workers: ``digest status``, ``/healthz`` and ``/metrics`` of a real
``digest serve``, after real sends to the fake SendGrid (one of them SIGKILLed mid-send).

Every figure is checked against the ledger and the run history, read independently.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from digest.config.load import load_settings
from digest.pipeline import Pipeline
from digest.store.migrate import head

from .cli_helpers import cli_env, run_digest, serving
from .databases import project_url
from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend, write_roster
from .fake_sendgrid import Action, FakeSendGrid
from .test_send_faults import cli

TOKEN = "metrics-token-0123456789abcdefghijkl"
SECRET = "br0ker-Pa55word"


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(API_KEY) as server:
        yield server


def env(**extra: str) -> dict[str, str]:
    return cli_env(SENDGRID_API_KEY=API_KEY, DIGEST_SIGNING_KEY=SIGNING_KEY, **extra)


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def status(project: Path, *args: str) -> tuple[int, dict[str, object]]:
    done = run_digest(project, "status", "--json", *args, env=env())
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def sendgrid_project(project: Path, fake: FakeSendGrid, roster: int) -> Pipeline:
    write_roster(project, roster)
    config = use_backend(
        project, "sendgrid", host=fake.url, batch_size=100, workers=1, timeout=60.0,
        backoff=0.001, backoff_max=0.01, max_retries=0,
    )  # fmt: skip
    config.write_text(config.read_text() + '\n[scheduler]\nlease = "2s"\n', encoding="utf-8")
    done = run_digest(project, "collect", env=env())
    assert done.returncode == 0, done.stderr
    return Pipeline(load_settings(config))


def test_status_with_nothing_running_says_so_and_exits_0(project: Path) -> None:
    done = run_digest(project, "status", env=env())
    assert done.returncode == 0, done.stderr
    assert "no broker configured (sends run in-process)" in done.stdout
    assert "claims held: none" in done.stdout and "sends under way: none" in done.stdout
    code, found = status(project)
    assert code == 0
    assert found["broker"] is None
    assert (found["claims"], found["sends"], found["problems"]) == ([], [], [])
    unknown = run_digest(project, "status", "--list", "nope", env=env())
    assert unknown.returncode == 3 and "no list named 'nope'" in unknown.stderr
    assert "weekly" in unknown.stderr


def test_status_shows_a_killed_send_its_expired_claim_and_progress(
    project: Path, fake: FakeSendGrid
) -> None:
    pipeline = sendgrid_project(project, fake, 300)
    fake.script("ok", Action("kill-after"))  # the second chunk posted, never recorded
    send = cli(project, "send", "--list", "weekly")
    fake.victim = send.pid
    send.wait(600)
    fake.settle()
    deadline = time.monotonic() + 120
    while True:  # the dead sender's 2 s lease runs out
        code, found = status(project)
        claims = found["claims"]
        assert isinstance(claims, list) and len(claims) == 1
        if claims[0]["expired"] or time.monotonic() > deadline:
            break
    (claim,) = claims
    assert claim["expired"] and claim["outcome"] == "running" and claim["list"] == "weekly"
    assert re.fullmatch(rf"[^:]+:{send.pid}:[0-9a-f]+", claim["owner"]), claim
    (issue,) = pipeline.unfinished("weekly")
    ledger = pipeline.store.issues.counts(issue.id)
    assert ledger == {"accepted": 100, "submitted": 100, "planned": 100}
    (under_way,) = found["sends"]  # type: ignore[misc]
    assert under_way == {
        "list": "weekly", "issue": issue.number, "total": 300, "counts": ledger,
        "chunks_in_hand": 1,
    }  # fmt: skip
    assert code == 1
    problems = " ".join(found["problems"])  # type: ignore[arg-type]
    assert "expired" in problems and f"owner {claim['owner']}" in problems
    table = run_digest(project, "status", env=env())
    assert table.returncode == 1
    assert "EXPIRED" in table.stdout and claim["owner"] in table.stdout.replace("\n", "")
    assert "attention:" in table.stdout


def scrape(web: httpx.Client, **headers: str) -> httpx.Response:
    return web.get("/metrics", headers=headers)


def test_serve_metrics_equal_the_ledger_and_the_run_history(
    project: Path, fake: FakeSendGrid
) -> None:
    pipeline = sendgrid_project(project, fake, 250)
    fake.script("ok", "400")  # the second chunk is refused: its 100 recipients fail
    send = run_digest(project, "send", "--list", "weekly", env=env())
    assert send.returncode == 0, send.stdout + send.stderr
    issue = pipeline.store.issues.latest(pipeline.store.subscribers.list_id("weekly"))
    assert issue is not None
    ledger = pipeline.store.issues.counts(issue.id)
    assert ledger == {"accepted": 150, "failed": 100}
    (run,) = pipeline.store.runs.history("weekly")
    with serving(project, env()) as base, httpx.Client(base_url=base, timeout=60) as web:
        page = scrape(web)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/plain; version=")
        got = samples(page.text)
    assert got[("digest_store_up", ())] == 1
    for status_, n in ledger.items():
        key = (("issue", str(issue.number)), ("list", "weekly"), ("status", status_))
        assert got[("digest_ledger_recipients", key)] == n
    assert got[("digest_runs_total", (("list", "weekly"), ("outcome", run.outcome)))] == 1
    assert not any(name == "digest_broker_up" for name, _ in got)  # no broker configured


def test_metrics_answer_loopback_only_or_the_bearer_of_the_token(project: Path) -> None:
    with serving(project, env()) as base, httpx.Client(base_url=base, timeout=60) as web:
        assert scrape(web).status_code == 200
        proxied = scrape(web, **{"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 403 and "DIGEST_METRICS_TOKEN" in proxied.text
    with (
        serving(project, env(DIGEST_METRICS_TOKEN=TOKEN)) as base,
        httpx.Client(base_url=base, timeout=60) as web,
    ):
        assert scrape(web).status_code == 403
        assert scrape(web, Authorization="Bearer wrong-token").status_code == 403
        assert scrape(web, Authorization=f"Bearer {TOKEN}").status_code == 200


def test_metrics_can_be_switched_off(project: Path) -> None:
    config = project / "config.toml"
    config.write_text(config.read_text() + "\n[web]\nmetrics = false\n", encoding="utf-8")
    with serving(project, env()) as base, httpx.Client(base_url=base, timeout=60) as web:
        assert scrape(web).status_code == 404
        assert web.get("/healthz").status_code == 200


def set_revision(url: str, revision: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    engine.dispose()


def test_healthz_is_503_while_the_schema_is_behind_and_names_no_secret(project: Path) -> None:
    config = project / "config.toml"
    broker = f"amqp://digest:{SECRET}@127.0.0.1:1/digest"  # nothing listens on port 1
    config.write_text(
        config.read_text() + '\n[workers]\nbroker_env = "DIGEST_BROKER_URL"\n', encoding="utf-8"
    )
    url = project_url(project)
    with (
        serving(project, env(DIGEST_BROKER_URL=broker)) as base,
        httpx.Client(base_url=base, timeout=60) as web,
    ):
        good = web.get("/healthz")
        assert good.status_code == 200, good.text
        assert good.json() == {
            "ok": True, "store": "ok", "schema": "current", "revision": head(), "head": head(),
            "broker": "unreachable", "reasons": [],
        }  # fmt: skip
        set_revision(url, "0004")  # as if this web host ran a newer digest than the database
        behind = web.get("/healthz")
        assert behind.status_code == 503
        assert behind.json()["schema"] == "behind" and behind.json()["revision"] == "0004"
        assert "digest db upgrade" in behind.json()["reasons"][0]
        metrics = scrape(web).text
        set_revision(url, head())
        assert web.get("/healthz").status_code == 200
    for body in (good.text, behind.text, metrics):
        assert SECRET not in body and "127.0.0.1:1" not in body
    assert samples(metrics)[("digest_broker_up", ())] == 0  # and no queue figures
    assert not any(name.startswith("digest_queue_") for name, _ in samples(metrics))


def test_healthz_is_503_when_postgresql_is_gone(
    project: Path, postgres_url: str, edit_config: Callable[[str, str], Path]
) -> None:
    edit_config(r'^url = ".*"$', f'url = "{postgres_url}"')
    with serving(project, env()) as base, httpx.Client(base_url=base, timeout=60) as web:
        assert web.get("/healthz").status_code == 200
        admin = create_engine(
            postgres_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT"
        )
        name = postgres_url.rsplit("/", 1)[1]
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
        gone = web.get("/healthz")
        assert gone.status_code == 503
        assert gone.json()["store"] == "unreachable"
        assert gone.json()["reasons"] == ["the database does not answer"]
        assert samples(scrape(web).text)[("digest_store_up", ())] == 0


def test_serve_refuses_a_weak_metrics_token_unechoed(project: Path) -> None:
    weak = "metrics-metrics"
    done = run_digest(project, "serve", "--port", "0", env=env(DIGEST_METRICS_TOKEN=weak))
    assert done.returncode == 2
    assert "DIGEST_METRICS_TOKEN" in done.stderr and "too weak" in done.stderr
    assert weak not in done.stderr + done.stdout
