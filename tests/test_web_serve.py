"""``digest serve`` as a process: binds loopback, serves the links, refuses to run keyless."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx

KEY = "serve-test-signing-key-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return {**base, **extra}


def test_serve_answers_on_loopback(project: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", "0"],  # the OS picks a free port
        cwd=project,
        env=env(DIGEST_SIGNING_KEY=KEY),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(180, proc.kill)  # never hang the suite on a stuck server
    watchdog.start()
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            found = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line)
            if found:
                break
        else:
            raise AssertionError("digest serve did not start:\n" + "".join(seen))
        base = f"http://127.0.0.1:{found.group(1)}"
        r = httpx.get(f"{base}/healthz")
        assert r.status_code == 200 and r.text == "ok"
        assert httpx.get(f"{base}/unsubscribe/forged.token1").status_code == 403
        hook = httpx.post(f"{base}/webhooks/sendgrid", content=b"[]")
        assert hook.status_code == 503  # no verification key configured
    finally:
        watchdog.cancel()
        proc.terminate()
        proc.wait(timeout=30)


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
