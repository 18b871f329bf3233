from __future__ import annotations

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
    with pytest.raises(ConfigError, match="too short"):
        Signer.from_env("DIGEST_TEST_KEY", allow_ephemeral=True)
    monkeypatch.setenv("DIGEST_TEST_KEY", "a-long-enough-secret-key-0123456789")
    signer = Signer.from_env("DIGEST_TEST_KEY", allow_ephemeral=False)
    assert not signer.ephemeral
    assert Signer(b"a-long-enough-secret-key-0123456789").verify(
        signer.sign(TokenClaims("l", 1, 2))
    ) == TokenClaims("l", 1, 2)
