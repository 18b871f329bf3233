"""Run the real ``digest`` CLI in a subprocess, with an environment free of this machine's keys."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cli_env(**extra: str) -> dict[str, str]:
    """This environment without ``DIGEST_`` and ``SENDGRID_`` variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "SENDGRID_"))}
    return env | extra


def run_digest(
    project: Path,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -m digest ARGS`` in ``project``, waited for, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=project,
        env=cli_env() if env is None else env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_digest(project: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """``python -m digest ARGS`` in ``project``, started, not waited for; output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def serving(project: Path, env: dict[str, str]) -> Iterator[str]:
    """A real ``digest serve`` in ``project`` on a port the OS picks; yields its origin.

    Waits for uvicorn's own "running on" line, not a fixed time; a watchdog kills a server
    that never gets there, so a stuck one cannot hang the suite."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--port", "0"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(600, proc.kill)  # a server that never says it runs
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
        watchdog.cancel()
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # never block its log
        yield f"http://127.0.0.1:{found.group(1)}"
    finally:
        watchdog.cancel()
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
