"""Options of the SendGrid and SMTP backends (their senders come with the delivery work)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SendGridOptions:
    """``[delivery.sendgrid]``: where the v3 API is and which variable holds the key."""

    host: str = "https://api.sendgrid.com"
    api_key_env: str = "SENDGRID_API_KEY"
    timeout: float = 30.0
    sandbox_mode: bool = False
    asm_group_id: int | None = None

    def validate(self) -> None:
        if not self.host.startswith(("https://", "http://")):
            raise ValueError(f"host: expected an http(s) URL, got {self.host!r}")
        if self.timeout <= 0:
            raise ValueError("timeout: expected a positive number of seconds")


@dataclass(frozen=True)
class SMTPOptions:
    """``[delivery.smtp]``: the relay and which variables hold the credentials."""

    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username_env: str = "SMTP_USERNAME"
    password_env: str = "SMTP_PASSWORD"
    timeout: float = 30.0

    def validate(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ValueError(
                f"security: expected 'starttls', 'tls' or 'none', got {self.security!r}"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"port: expected 1-65535, got {self.port}")
