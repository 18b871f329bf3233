"""Headers as the other side reads them: list headers plain ASCII, a real Date offset.

Issue 14.4: ``List-Unsubscribe`` went out RFC 2047-encoded because its URL is longer than a
line, so RFC 2369 clients saw no URL. Issue 15.14: ``Date`` said ``-0000`` (local time unknown).
The raw header values are read with ``compat32``, which decodes nothing.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import compat32, default
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.pipeline import Pipeline

from .delivery_helpers import SIGNING_KEY
from .test_smtp import Relay, pipeline, relay  # noqa: F401  (relay is a fixture)

UNFOLDED = re.compile(r"\r?\n[ \t]")


def raw_headers(data: bytes) -> dict[str, str]:
    """Each header's raw value, unfolded, as the bytes hold it (nothing decoded)."""
    msg = message_from_bytes(data, policy=compat32)
    return {name: UNFOLDED.sub(" ", str(value)) for name, value in msg.raw_items()}


def check_raw(data: bytes) -> None:
    head = data.split(b"\r\n\r\n" if b"\r\n\r\n" in data else b"\n\n", 1)[0]
    assert b"=?" not in re.sub(rb"(?m)^(From|To|Subject):.*(\r?\n[ \t].*)*", b"", head)
    h = raw_headers(data)
    unsubscribe = h["List-Unsubscribe"]
    assert (
        unsubscribe.startswith("<https://digest.example.org/unsubscribe/")
        and "=?" not in unsubscribe
    )
    assert re.fullmatch(r"<https://[^<>\s]+>(, <mailto:[^<>\s]+>)?", unsubscribe), unsubscribe
    assert h["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<[a-z0-9.-]+>", h["List-Id"])
    # folded only between items: no line of the header breaks inside a <...>
    block = re.search(rb"(?m)^List-Unsubscribe: .*(\r?\n[ \t].*)*", head)
    assert block is not None
    for line in block.group().splitlines():
        assert line.count(b"<") == line.count(b">") and len(line) <= 998
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", h["Date"]), h["Date"]


def test_outbox_eml_has_plain_list_headers_and_a_real_date(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SIGNING_KEY", SIGNING_KEY)
    p = Pipeline(load_settings(project / "config.toml"))
    p.collect()
    p.send("weekly")
    files = sorted((project / "outbox" / "weekly").rglob("*.eml"))
    assert files
    for path in files:
        check_raw(path.read_bytes())


def test_smtp_server_receives_plain_list_headers_and_non_ascii_still_encoded(
    project: Path,
    relay: tuple[Relay, int],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, port = relay
    text = (project / "config.toml").read_text(encoding="utf-8")
    text = re.sub(r"^from_name = .*$", 'from_name = "Revue Hebdomadaire Éditée"', text, flags=re.M)
    text = re.sub(r'^subject = .*$', 'subject = "Numéro {{ issue.number }}: Ça marche"', text,
                  count=1, flags=re.M)  # fmt: skip
    (project / "config.toml").write_text(text, encoding="utf-8")
    pipeline(project, port, monkeypatch).send("weekly")
    assert server.messages
    for _, data in server.messages:
        check_raw(data)
        h = raw_headers(data)
        assert "=?utf-8?" in h["Subject"] and "=?utf-8?" in h["From"] and data.isascii()
        decoded = message_from_bytes(data, policy=default)
        assert str(decoded["Subject"]) == "Numéro 1: Ça marche"
        assert decoded["From"].addresses[0].display_name == "Revue Hebdomadaire Éditée"
