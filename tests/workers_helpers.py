"""Real ``digest worker`` processes and ``digest send`` runs against a project, for the tests."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cli_helpers import cli_env
from .delivery_helpers import API_KEY, SIGNING_KEY, use_backend
from .fake_sendgrid import FakeSendGrid
from .rabbit import broker_url, fresh_vhost

BROKER_ENV = "DIGEST_TEST_BROKER"


def use_workers(project: Path, sendgrid_url: str, vhost: str, batch: int) -> Path:
    """Send through SendGrid at ``sendgrid_url`` in chunks of ``batch``, via workers."""
    config = use_backend(
        project, "sendgrid", host=sendgrid_url, batch_size=batch, workers=1, timeout=10.0,
        backoff=0.001, backoff_max=0.01,
    )  # fmt: skip
    queue = f"digest-{secrets.token_hex(4)}"
    extra = (
        f'\n[workers]\nbroker_env = "{BROKER_ENV}"\nqueue = "{queue}"\nchunk_lease = "2s"\n'
        '\n[scheduler]\nlease = "2s"\n'
    )
    config.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return config


def env_for(vhost: str, **extra: str) -> dict[str, str]:
    return cli_env(
        SENDGRID_API_KEY=API_KEY, DIGEST_SIGNING_KEY=SIGNING_KEY,
        **{BROKER_ENV: broker_url(vhost)}, **extra,
    )  # fmt: skip


class Worker:
    """A ``digest worker`` subprocess whose log goes to a file."""

    def __init__(self, project: Path, vhost: str, name: str, *args: str, **env: str):
        self.log = project / f"worker-{name}.log"
        self.handle = self.log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "digest", "worker", "--concurrency", "1", *args],
            cwd=project,
            env=env_for(vhost, **env),
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Until Celery says the worker consumes (or the process ends)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text(encoding="utf-8"):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}: {self.text()}")
            time.sleep(0.05)
        raise AssertionError(f"worker not ready after {timeout}s: {self.text()}")

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")[-4000:]

    def stop(self) -> None:
        """SIGKILL the worker and its pool (tests end; nothing is waited for)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self.handle.close()


def digest(project: Path, vhost: str, *args: str) -> subprocess.Popen[str]:
    """``digest ARGS`` in the project, with the broker and keys in its environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        cwd=project,
        env=env_for(vhost),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    """A fake SendGrid answering the test API key (tests with workers send to it)."""
    with FakeSendGrid(API_KEY) as server:
        yield server


@pytest.fixture
def vhost() -> Iterator[str]:
    """A RabbitMQ vhost of the test's own, removed afterwards."""
    yield from fresh_vhost()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """The test's started ``digest worker``s, each stopped at teardown."""
    started: list[Worker] = []
    yield started
    for w in started:
        w.stop()
