"""Run the real ``digest`` CLI in a subprocess, with an environment free of this machine's keys."""

from __future__ import annotations

import os
import subprocess
import sys
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
