"""``digest serve`` as a process: binds loopback, serves the links, refuses to run keyless."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from .cli_helpers import serving

KEY = "serve-test-signing-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return {**base, **extra}


def test_serve_answers_on_loopback(project: Path) -> None:
    with (
        serving(project, env(DIGEST_SIGNING_KEY=KEY)) as base,  # the OS picks a free port
        httpx.Client(base_url=base, timeout=60) as web,
    ):
        r = web.get("/healthz")
        assert r.status_code == 200 and r.json()["ok"] is True
        assert web.get("/unsubscribe/forged.token1").status_code == 403
        hook = web.post("/webhooks/sendgrid", content=b"[]")
        assert hook.status_code == 503  # no verification key configured


def test_serve_refuses_to_start_without_the_signing_key(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "digest", "serve", "--port", str(free_port())],
        cwd=project,
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DIGEST_SIGNING_KEY is not set" in result.stderr and "Traceback" not in result.stderr
