"""The real RabbitMQ on 127.0.0.1:5672: a vhost of its own per test, deleted afterwards."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest

HOST, PORT = "127.0.0.1", 5672


def _reachable() -> str | None:
    """Why RabbitMQ cannot be used here, or None when it can."""
    if shutil.which("rabbitmqctl") is None:
        return "RabbitMQ is not installed (no rabbitmqctl)"
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError:
        return f"RabbitMQ is not running on {HOST}:{PORT}"
    return None


def needs_rabbitmq() -> None:
    """Skip with the reason when RabbitMQ is absent; fail instead under ``CI=true``."""
    reason = _reachable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "--quiet", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def fresh_vhost() -> Iterator[str]:
    """A fresh vhost that guest may use, deleted afterwards; yields its name (for a fixture)."""
    needs_rabbitmq()
    name = f"digest-test-{secrets.token_hex(4)}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield name
    finally:
        rabbitmqctl("delete_vhost", name)


def broker_url(vhost: str) -> str:
    return f"amqp://guest:guest@{HOST}:{PORT}/{vhost}"
