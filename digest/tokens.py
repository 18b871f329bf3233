"""Signed link tokens for unsubscribe and preferences: HMAC-SHA256 of (list, subscriber, issue)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii

from .errors import ConfigError


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a link token vouches for."""

    list_name: str
    subscriber_id: int
    issue_id: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and verifies link tokens with a key taken from the environment."""

    def __init__(self, key: bytes, ephemeral: bool = False):
        if len(key) < 16:
            raise ValueError("signing key must be at least 16 bytes")
        self.key = key
        self.ephemeral = ephemeral

    @classmethod
    def from_env(cls, variable: str, *, allow_ephemeral: bool) -> Signer:
        """The signer keyed by ``$variable``; a random one-off key only if allowed."""
        value = os.environ.get(variable, "")
        if value:
            if len(value) < 16:
                raise ConfigError(
                    f"${variable} is too short", subject=variable, hint="use at least 32 characters"
                )
            return cls(value.encode("utf-8"))
        if allow_ephemeral:
            return cls(secrets.token_bytes(32), ephemeral=True)
        raise ConfigError(
            f"${variable} is not set",
            subject=variable,
            hint=f"export {variable}=$(openssl rand -base64 32)",
        )

    def sign(self, claims: TokenClaims) -> str:
        # The bytes of json.dumps([list, subscriber, issue], separators=(",", ":")), made faster:
        # a send signs one token per recipient.
        name = encode_basestring_ascii(claims.list_name)
        payload = f"[{name},{int(claims.subscriber_id)},{int(claims.issue_id)}]".encode()
        mac = hmac.digest(self.key, payload, "sha256")[:16]
        return f"{_b64(payload)}.{_b64(mac)}"

    def verify(self, token: str) -> TokenClaims | None:
        """The claims of a genuine token, or None for a forged or malformed one."""
        try:
            body, mac = token.split(".", 1)
            payload = _unb64(body)
            expected = hmac.new(self.key, payload, hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(expected, _unb64(mac)):
                return None
            list_name, sub_id, issue_id = json.loads(payload)
            return TokenClaims(str(list_name), int(sub_id), int(issue_id))
        except (ValueError, TypeError):
            return None
