"""Options of the SendGrid and SMTP backends, as ``[delivery.sendgrid]`` and ``[delivery.smtp]``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pacing:
    """How hard a backend pushes: parallel workers, a rate cap, and its retry schedule."""

    workers: int = 4
    """Chunks in flight at once, one worker thread (and connection) each."""
    max_per_second: float = 0.0
    """Cap on messages (recipients) handed to the backend per second; 0 means no cap."""
    max_retries: int = 5
    """Attempts after the first for a retryable failure (429, 5xx, refused connection)."""
    backoff: float = 1.0
    """First backoff in seconds; doubles each retry, with jitter."""
    backoff_max: float = 60.0
    """Longest single wait, including a 429's ``X-RateLimit-Reset``."""
    retry_rounds: int = 3
    """Extra passes over recipients sent back for a later retry (SMTP 4xx, retries used up)."""

    def check(self) -> None:
        if self.workers < 1 or self.workers > 64:
            raise ValueError(f"workers: expected 1-64, got {self.workers}")
        if self.max_per_second < 0:
            raise ValueError("max_per_second: expected 0 (no cap) or a positive number")
        if self.max_retries < 0 or self.retry_rounds < 0:
            raise ValueError("max_retries and retry_rounds: expected 0 or more")
        if self.backoff < 0 or self.backoff_max < self.backoff:
            raise ValueError("backoff: expected 0 <= backoff <= backoff_max")


@dataclass(frozen=True)
class SendGridOptions(Pacing):
    """``[delivery.sendgrid]``: where the v3 API is, which variable holds the key, and more."""

    host: str = "https://api.sendgrid.com"
    api_key_env: str = "SENDGRID_API_KEY"
    timeout: float = 30.0
    """Seconds to wait for SendGrid's answer before the chunk counts as ``unknown``."""
    batch_size: int = 1000
    """Recipients (personalizations) per request; SendGrid allows at most 1000."""
    sandbox_mode: bool = False
    asm_group_id: int | None = None

    def validate(self) -> None:
        if not self.host.startswith(("https://", "http://")):
            raise ValueError(f"host: expected an http(s) URL, got {self.host!r}")
        if self.timeout <= 0:
            raise ValueError("timeout: expected a positive number of seconds")
        if not 1 <= self.batch_size <= 1000:
            raise ValueError(f"batch_size: expected 1-1000, got {self.batch_size}")
        self.check()


@dataclass(frozen=True)
class SMTPOptions(Pacing):
    """``[delivery.smtp]``: the relay, its security, and which variables hold the credentials."""

    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username_env: str = "SMTP_USERNAME"
    password_env: str = "SMTP_PASSWORD"
    timeout: float = 30.0
    batch_size: int = 50
    """Messages per ledger chunk; a crash mid-chunk leaves at most this many ``unknown``."""
    ca_file: Path | None = None
    """Extra CA certificates to trust (a private relay); the system store otherwise."""
    workers: int = 2

    def validate(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ValueError(
                f"security: expected 'starttls', 'tls' or 'none', got {self.security!r}"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"port: expected 1-65535, got {self.port}")
        if self.timeout <= 0:
            raise ValueError("timeout: expected a positive number of seconds")
        if not 1 <= self.batch_size <= 1000:
            raise ValueError(f"batch_size: expected 1-1000, got {self.batch_size}")
        self.check()
