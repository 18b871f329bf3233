"""``[workers]``: the broker is RabbitMQ's, its URL may come from the environment and is never
echoed, and without one everything runs in-process; the docs say all of it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from digest.config import WorkersSettings
from digest.config.load import load_settings
from digest.errors import ConfigError
from digest.pipeline import Pipeline
from digest.send import Sender
from digest.workers.app import shown

from .cli_helpers import cli_env, run_digest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-Pa55"


def with_workers(project: Path, table: str) -> Path:
    path = project / "config.toml"
    path.write_text(path.read_text("utf-8") + f"\n[workers]\n{table}\n", "utf-8")
    return path


def test_a_redis_broker_is_refused_with_the_reason(project: Path) -> None:
    path = with_workers(project, 'broker = "redis://127.0.0.1:6379/0"')
    with pytest.raises(ConfigError, match=r"workers(\.|: )broker: .*amqp.*visibility timeout") as e:
        load_settings(path)
    assert str(project / "config.toml") in str(e.value)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('queue = "no spaces please"', "queue"),
        ('chunk_lease = "soon"', "chunk_lease"),
        ('stall = "0s"', "stall"),
        ('broker = "127.0.0.1:5672"', "broker"),
    ],
)
def test_bad_values_are_named(project: Path, table: str, key: str) -> None:
    with pytest.raises(ConfigError, match=rf"workers(\.|: ){key}"):
        load_settings(with_workers(project, table))


def test_broker_env_wins_and_a_bad_url_there_is_not_echoed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = with_workers(
        project, 'broker = "amqp://127.0.0.1:5672//"\nbroker_env = "DIGEST_BROKER_URL"'
    )
    workers = load_settings(path).workers
    monkeypatch.delenv("DIGEST_BROKER_URL", raising=False)
    assert workers.broker_url() == "amqp://127.0.0.1:5672//"
    monkeypatch.setenv("DIGEST_BROKER_URL", f"amqp://digest:{SECRET}@mq.internal:5672/digest")
    assert workers.broker_url() == f"amqp://digest:{SECRET}@mq.internal:5672/digest"
    monkeypatch.setenv("DIGEST_BROKER_URL", f"redis://:{SECRET}@mq.internal:6379/0")
    with pytest.raises(ConfigError) as e:
        workers.broker_url()
    assert SECRET not in str(e.value) and "DIGEST_BROKER_URL" in str(e.value)


def test_a_url_pasted_into_broker_env_is_refused_unseen(project: Path) -> None:
    path = with_workers(project, f'broker_env = "amqp://u:{SECRET}@h//"')
    with pytest.raises(ConfigError, match=r"workers(\.|: )broker_env") as e:
        load_settings(path)
    assert SECRET not in str(e.value)


def test_without_a_broker_sends_stay_in_process(project: Path) -> None:
    pipeline = Pipeline(load_settings(project / "config.toml"))
    assert type(pipeline.sender(pipeline.backend())) is Sender
    done = run_digest(project, "worker", env=cli_env())
    assert done.returncode != 0
    assert "no broker configured" in done.stderr and "broker_env" in done.stderr


def test_worker_and_every_workers_key_are_documented() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    config = (ROOT / "docs" / "config.md").read_text("utf-8")
    deploy = (ROOT / "docs" / "deploy.md").read_text("utf-8")
    assert "| `digest worker [--concurrency N] [--queues Q] [--metrics-port P]` |" in readme
    assert "## `[workers]`" in config
    for field in dataclasses.fields(WorkersSettings):
        assert f"| `{field.name}` |" in config, field.name
    for setting in (
        "task_acks_late",
        "task_reject_on_worker_lost",
        "worker_prefetch_multiplier",
        "confirm_publish",
        "visibility timeout",
        "unknown",
    ):
        assert setting in deploy, setting


def test_the_broker_password_is_masked_wherever_digest_names_the_broker() -> None:
    assert shown(f"amqp://digest:{SECRET}@mq.internal:5672/digest") == (
        "amqp://digest:***@mq.internal:5672/digest"
    )
    assert shown("amqp://mq.internal//") == "amqp://mq.internal//"
