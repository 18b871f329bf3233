"""Operations with real ``digest worker`` processes on RabbitMQ: ``digest status`` while chunks
wait for workers and after they sent them, and each worker's Prometheus endpoint scraped over
HTTP, its counts added up and compared with the ledger."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx

from digest.config.load import load_settings
from digest.pipeline import Pipeline

from .cli_helpers import run_digest
from .delivery_helpers import write_roster
from .fake_sendgrid import FakeSendGrid
from .test_ops import samples
from .test_web_serve import free_port
from .test_workers import collected, the_issue
from .workers_helpers import Worker, digest, env_for, use_workers

RECIPIENTS, BATCH = 3000, 100
CHUNKS = RECIPIENTS // BATCH


def status(project: Path, vhost: str) -> tuple[int, dict[str, Any]]:
    done = run_digest(project, "status", "--json", "--timeout", "3", env=env_for(vhost))
    assert done.returncode in (0, 1), done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, found


def test_status_and_worker_metrics_follow_a_send_through_two_workers(
    project: Path, fake: FakeSendGrid, vhost: str, workers: list[Worker]
) -> None:
    write_roster(project, RECIPIENTS)
    config = use_workers(project, fake.url, vhost, batch=BATCH)
    collected(project, vhost)
    send = digest(project, vhost, "send", "--list", "weekly")
    deadline = time.monotonic() + 300
    while True:  # every chunk handed over, none taken: no worker runs yet
        code, found = status(project, vhost)
        queue = (found["broker"] or {}).get("queue") or {}
        if queue.get("messages") == CHUNKS or time.monotonic() > deadline:
            break
        assert send.poll() is None, send.communicate()
    assert queue == {"name": queue["name"], "exists": True, "messages": CHUNKS, "consumers": 0}
    assert found["broker"]["workers"] == [] and found["broker"]["error"] is None
    assert "amqp://guest:***@127.0.0.1:5672/" in found["broker"]["url"]
    (under_way,) = found["sends"]
    assert under_way["total"] == RECIPIENTS and under_way["counts"] == {"planned": RECIPIENTS}
    (claim,) = found["claims"]
    assert re.fullmatch(rf"[^:]+:{send.pid}:[0-9a-f]+", claim["owner"]), claim
    assert code == 1 and any("no worker consumes queue" in p for p in found["problems"])

    ports = [free_port(), free_port()]
    temp = project / "tmp"  # where each worker makes its metrics directory (SIGKILLed at the end)
    temp.mkdir()
    workers += [
        Worker(project, vhost, str(i), "--metrics-port", str(port), TMPDIR=str(temp))
        for i, port in enumerate(ports)
    ]
    out, errors = send.communicate(timeout=300)
    assert send.returncode == 0, out + errors
    pipeline = Pipeline(load_settings(config))
    ledger = pipeline.store.issues.counts(the_issue(pipeline).id)
    assert ledger == {"accepted": RECIPIENTS}

    scraped = []
    for port in ports:
        page = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=60)
        assert page.status_code == 200
        scraped.append(samples(page.text))
    accepted = (("list", "weekly"), ("outcome", "accepted"))
    assert sum(s.get(("digest_recipients_total", accepted), 0) for s in scraped) == RECIPIENTS
    assert all(s.get(("digest_recipients_total", accepted)) for s in scraped)  # both sent
    latency = sum(s.get(("digest_chunk_seconds_count", (("list", "weekly"),)), 0) for s in scraped)
    done = (("list", "weekly"), ("result", "done"))
    assert latency == sum(s.get(("digest_chunks_total", done), 0) for s in scraped) == CHUNKS
    for s in scraped:
        assert s[("digest_broker_up", ())] == 1
        assert s[("digest_queue_messages", (("queue", queue["name"]),))] == 0

    made = [p for p in temp.iterdir() if p.name.startswith("digest-worker-metrics-")]
    assert len(made) == 2, made  # one directory per worker, made by itself

    code, found = status(project, vhost)
    assert code == 0, found["problems"]
    names = sorted(w["name"] for w in found["broker"]["workers"])
    assert names == sorted(f"digest-{w.proc.pid}@{names[0].split('@')[1]}" for w in workers)
    assert found["broker"]["queue"]["consumers"] == 2 and found["broker"]["queue"]["messages"] == 0
    assert found["sends"] == [] and found["claims"] == []
    (last,) = found["last_runs"]
    assert (last["outcome"], last["counts"]) == ("sent", {"accepted": RECIPIENTS})
