from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from digest.errors import ConfigError
from digest.tokens import Signer, TokenClaims

KEY = b"k" * 32


def test_round_trip_and_forgery() -> None:
    signer = Signer(KEY)
    claims = TokenClaims("weekly", 42, 7)
    token = signer.sign(claims)
    assert signer.verify(token) == claims
    body, mac = token.split(".")
    assert signer.verify(f"{body}.{mac[:-2]}AA") is None  # altered signature
    other = Signer(b"x" * 32).sign(TokenClaims("weekly", 43, 7))
    assert signer.verify(f"{other.split('.')[0]}.{mac}") is None  # swapped payload
    assert Signer(b"x" * 32).verify(token) is None  # other key
    for junk in ("", "abc", "a.b.c", "!!!.???"):
        assert signer.verify(junk) is None


def test_key_comes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGEST_TEST_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"\$DIGEST_TEST_KEY is not set"):
        Signer.from_env("DIGEST_TEST_KEY", allow_ephemeral=False)
    assert Signer.from_env("DIGEST_TEST_KEY", allow_ephemeral=True).ephemeral
    monkeypatch.setenv("DIGEST_TEST_KEY", "short")
    with pytest.raises(ConfigError, match="too weak"):
        Signer.from_env("DIGEST_TEST_KEY", allow_ephemeral=True)
    for weak in ("a" * 16, "a" * 64, " " * 40, "0123456789abcdef", "abcd" * 10):
        monkeypatch.setenv("DIGEST_TEST_KEY", weak)
        with pytest.raises(ConfigError, match=r"\$DIGEST_TEST_KEY is too weak") as raised:
            Signer.from_env("DIGEST_TEST_KEY", allow_ephemeral=True)
        assert weak not in str(raised.value)
    monkeypatch.setenv("DIGEST_TEST_KEY", "a-long-enough-secret-key-0123456789")
    signer = Signer.from_env("DIGEST_TEST_KEY", allow_ephemeral=False)
    assert not signer.ephemeral
    assert Signer(b"a-long-enough-secret-key-0123456789").verify(
        signer.sign(TokenClaims("l", 1, 2))
    ) == TokenClaims("l", 1, 2)


def test_tokens_in_bulk_match_one_by_one_and_keep_the_payload_format() -> None:
    signer = Signer(KEY)
    bulk = signer.tokens('week"ly', 7, [1, 22, 333])
    assert bulk == [signer.sign(TokenClaims('week"ly', i, 7)) for i in (1, 22, 333)]
    assert [signer.verify(t) for t in bulk] == [TokenClaims('week"ly', i, 7) for i in (1, 22, 333)]
    body = bulk[1].split(".")[0]
    assert base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)) == b'["week\\"ly",22,7]'
    assert "=" not in "".join(bulk) and "+" not in "".join(bulk) and "/" not in "".join(bulk)


def test_tokens_signed_with_hmac_sha256_by_earlier_versions_still_verify() -> None:
    payload = json.dumps(["weekly", 42, 7], separators=(",", ":")).encode()
    mac = hmac.new(KEY, payload, hashlib.sha256).digest()[:16]

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    assert Signer(KEY).verify(f"{b64(payload)}.{b64(mac)}") == TokenClaims("weekly", 42, 7)
    assert Signer(b"x" * 32).verify(f"{b64(payload)}.{b64(mac)}") is None
