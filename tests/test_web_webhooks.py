"""``POST /webhooks/sendgrid`` on a real server: signatures, replays, limits, effects."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.store.events import EventRepo
from digest.web.webhooks import SIGNATURE, TIMESTAMP

from . import web_client
from .web_setup import NOW, Site, open_site, sign_webhook, webhook_keys

BEN = "ben.carter@example.com"
ANA = "ana.ribeiro@example.org"


@pytest.fixture
def site(project: Path, live_server: Callable[[Any], str]) -> Site:
    return open_site(project, live_server)


def event(kind: str, email: str, event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event": kind,
        "email": email,
        "sg_event_id": event_id,
        "timestamp": int(NOW.timestamp()),
        **extra,
    }


def post(site: Site, events: list[dict[str, Any]], **kw: Any) -> httpx.Response:
    body, headers = site.webhook(events, **kw)
    return web_client.post(f"{site.url}/webhooks/sendgrid", content=body, headers=headers)


def test_a_signed_bounce_suppresses_the_address_on_every_list(site: Site) -> None:
    r = post(site, [event("bounce", "Ana.Ribeiro@EXAMPLE.org", "b1", type="bounce", reason="550")])
    assert r.status_code == 200 and r.json()["suppressed"] == 1
    assert site.status(ANA, "weekly") == "bounced"
    assert site.status(ANA, "daily") == "bounced"
    [row] = site.suppression_rows()
    assert row["reason"] == "bounced" and row["origin"] == "sendgrid" and row["list_id"] is None
    assert "550" in row["detail"]


def test_each_suppressing_event_maps_to_its_reason(site: Site) -> None:
    events = [
        event("spamreport", "grace.lee@example.net", "s1"),
        event("unsubscribe", "chloe.martin@example.net", "u1"),
        event("group_unsubscribe", ANA, "g1", list="weekly", issue_id=str(site.issue_id)),
        event("dropped", "dev.patel@example.org", "d1", reason="Bounced Address"),
        event("dropped", "farid.haddad@example.org", "d2", reason="Invalid SMTPAPI header"),
        event("bounce", BEN, "b1", type="blocked", reason="421 try later"),
    ]
    r = post(site, events)
    assert r.status_code == 200 and r.json()["suppressed"] == 4
    assert site.status("grace.lee@example.net") == "complained"
    assert site.status("chloe.martin@example.net") == "unsubscribed"
    assert site.status(ANA, "weekly") == "unsubscribed"
    assert site.status(ANA, "daily") == "active"  # a group unsubscribe is for that list only
    assert site.status("dev.patel@example.org") == "bounced"
    assert site.status("farid.haddad@example.org") == "active"  # not about the address
    assert site.status(BEN) == "active"  # a temporary block is not a bounce


def test_engagement_events_update_delivery_stats(site: Site) -> None:
    ben = site.sub_id(BEN)
    args = {"list": "weekly", "issue_id": str(site.issue_id)}
    events = [
        event("deferred", BEN, "e1", **args),
        event("delivered", BEN, "e2", **args),
        event("open", BEN, "e3", **args),
        event("open", BEN, "e4", **args),
        event("click", BEN, "e5", url="https://blogs.example.org/x", **args),
        event("open", BEN, "e6", list="daily", issue_id=str(site.issue_id)),  # wrong list
        event("processed", BEN, "e7", **args),
    ]
    r = post(site, events)
    assert r.status_code == 200
    assert r.json() == {"received": 7, "suppressed": 0, "stats": 5, "duplicate": 0, "unmatched": 1}
    stats = EventRepo(site.store.engine).for_delivery(site.issue_id, ben)
    assert stats is not None
    assert (stats["deferred"], stats["opens"], stats["clicks"]) == (1, 2, 1)
    assert stats["delivered_at"] == NOW and stats["first_open_at"] == NOW
    totals = EventRepo(site.store.engine).issue_totals(site.issue_id)
    assert totals == {"delivered": 1, "deferred": 1, "opened": 1, "clicked": 1}


def test_each_event_is_handled_once(site: Site) -> None:
    args = {"list": "weekly", "issue_id": site.issue_id}
    batch = [event("open", BEN, "o1", **args), event("spamreport", ANA, "s1")]
    assert post(site, batch).json()["stats"] == 1
    site.store.subscribers.set_status(site.sub_id(ANA), "active", NOW)  # an operator's fix
    replay = post(site, batch, at=NOW + timedelta(seconds=30))  # re-signed, fresh timestamp
    assert replay.status_code == 200
    assert replay.json()["duplicate"] == 2 and replay.json()["stats"] == 0
    stats = EventRepo(site.store.engine).for_delivery(site.issue_id, site.sub_id(BEN))
    assert stats is not None and stats["opens"] == 1
    assert site.status(ANA) == "active"  # the replayed complaint did not re-apply
    within = post(site, [event("open", BEN, "o2", **args), event("open", BEN, "o2", **args)])
    assert within.json()["duplicate"] == 1


def test_a_wrong_signature_is_refused(site: Site) -> None:
    body, headers = site.webhook([event("bounce", BEN, "b1")])
    other, _ = webhook_keys()
    forged = sign_webhook(other, body, NOW)
    r = web_client.post(f"{site.url}/webhooks/sendgrid", content=body, headers=forged)
    assert r.status_code == 403
    tampered = body.replace(BEN.encode(), ANA.encode())
    r = web_client.post(f"{site.url}/webhooks/sendgrid", content=tampered, headers=headers)
    assert r.status_code == 403
    garbage = {**headers, "X-Twilio-Email-Event-Webhook-Signature": "bm90IGEgc2lnbmF0dXJl"}
    assert (
        web_client.post(f"{site.url}/webhooks/sendgrid", content=body, headers=garbage).status_code
        == 403
    )
    unsigned = {"Content-Type": "application/json"}
    assert (
        web_client.post(f"{site.url}/webhooks/sendgrid", content=body, headers=unsigned).status_code
        == 403
    )
    assert site.status(BEN) == "active" and site.status(ANA) == "active"
    assert site.suppression_rows() == []


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_stale_or_future_timestamps_are_refused(site: Site, offset: int) -> None:
    r = post(site, [event("bounce", BEN, "b1")], at=NOW + timedelta(seconds=offset))
    assert r.status_code == 403 and "stale" in r.text
    assert site.status(BEN) == "active"


def test_a_timestamp_within_five_minutes_is_accepted(site: Site) -> None:
    r = post(site, [event("bounce", BEN, "b1")], at=NOW - timedelta(seconds=299))
    assert r.status_code == 200 and site.status(BEN) == "bounced"


def test_oversized_bodies_are_refused(site: Site) -> None:
    events = [event("open", BEN, f"id-{i}", pad="x" * 100) for i in range(200)]
    body, headers = site.webhook(events)
    assert len(body) > 20_000  # the test site's cap
    r = web_client.post(f"{site.url}/webhooks/sendgrid", content=body, headers=headers)
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed size is what counts
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    r = web_client.post(f"{site.url}/webhooks/sendgrid", content=chunks(), headers=headers)
    assert r.status_code == 413


def test_a_malformed_payload_is_refused_whole(site: Site) -> None:
    good = event("bounce", BEN, "b1")
    for bad in (
        [good, {"event": "bounce", "email": ANA}],  # no sg_event_id
        [good, "not an object"],
        [good, event("open", ANA, "x", timestamp="yesterday")],
        [good, event("open", ANA, "y", issue_id="seven")],
        {"event": "bounce"},
    ):
        r = post(site, bad)  # type: ignore[arg-type]
        assert r.status_code == 400, bad
    body = b"[{not json"
    _, headers = site.webhook([])
    headers = sign_webhook(site.webhook_key, body, NOW)
    assert (
        web_client.post(f"{site.url}/webhooks/sendgrid", content=body, headers=headers).status_code
        == 400
    )
    assert site.status(BEN) == "active" and site.suppression_rows() == []
    # nothing was half-applied: the good event's id was not recorded, so it still works
    assert post(site, [good]).json()["suppressed"] == 1


def test_without_a_key_the_webhook_is_unavailable(
    project: Path, live_server: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SENDGRID_WEBHOOK_PUBLIC_KEY", raising=False)
    site = open_site(project, live_server, web='sendgrid_public_key_env = "DIGEST_NO_SUCH_VAR"')
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    start = text.index("sendgrid_public_key = ")
    config.write_text(text[:start] + text[text.index("\n", start) + 1 :], encoding="utf-8")
    from digest.config.load import load_settings
    from digest.web import create_app

    app = create_app(load_settings(config), site.store, signer=site.signer, clock=lambda: NOW)
    url = live_server(app)
    body, headers = site.webhook([event("bounce", BEN, "b1")])
    assert (
        web_client.post(f"{url}/webhooks/sendgrid", content=body, headers=headers).status_code
        == 503
    )


def test_the_key_may_come_from_the_environment(
    project: Path, live_server: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    site = open_site(project, live_server)
    private, public = webhook_keys()
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", public)
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    start = text.index("sendgrid_public_key = ")
    config.write_text(text[:start] + text[text.index("\n", start) + 1 :], encoding="utf-8")
    from digest.config.load import load_settings
    from digest.web import create_app

    app = create_app(load_settings(config), site.store, signer=site.signer, clock=lambda: NOW)
    url = live_server(app)
    body = b'[{"event": "spamreport", "email": "ben.carter@example.com", "sg_event_id": "e"}]'
    r = web_client.post(
        f"{url}/webhooks/sendgrid", content=body, headers=sign_webhook(private, body, NOW)
    )
    assert r.status_code == 200 and site.status(BEN) == "complained"


def test_concurrent_deliveries_of_one_batch_apply_once(site: Site) -> None:
    args = {"list": "weekly", "issue_id": site.issue_id}
    body, headers = site.webhook([event("open", BEN, "c1", **args), event("bounce", ANA, "c2")])

    def send(_: int) -> dict[str, int]:
        r = web_client.post(f"{site.url}/webhooks/sendgrid", content=body, headers=headers)
        assert r.status_code == 200
        result: dict[str, int] = r.json()
        return result

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(6)))
    assert sum(r["stats"] for r in results) == 1
    assert sum(r["suppressed"] for r in results) == 1
    assert sum(r["duplicate"] for r in results) == 10
    stats = EventRepo(site.store.engine).for_delivery(site.issue_id, site.sub_id(BEN))
    assert stats is not None and stats["opens"] == 1


def _signed(site: Site, body: bytes) -> httpx.Response:
    headers = sign_webhook(site.webhook_key, body, NOW)
    return web_client.post(f"{site.url}/webhooks/sendgrid", content=body, headers=headers)


def test_oversized_headers_are_refused_before_anything_is_parsed(site: Site) -> None:
    body, headers = site.webhook([event("bounce", BEN, "b1")])
    url = f"{site.url}/webhooks/sendgrid"
    huge_stamp = {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": "1" * 5000}
    r = web_client.post(url, content=body, headers=huge_stamp)
    assert r.status_code == 400 and "Timestamp" in r.json()["error"]
    for stamp in ("-1", "1e9", "+1764255600", "1764255600.0", "0x69284a70"):
        r = web_client.post(url, content=body, headers={**headers, TIMESTAMP: stamp})
        assert r.status_code == 400, stamp
    long_signature = {**headers, SIGNATURE: "A" * 5000}
    r = web_client.post(url, content=body, headers=long_signature)
    assert r.status_code == 400 and "Signature" in r.json()["error"]
    assert (
        web_client.post(url, content=body, headers={**headers, SIGNATURE: "a b"}).status_code == 400
    )
    assert site.status(BEN) == "active"
    assert web_client.post(url, content=body, headers=headers).json()["suppressed"] == 1


def test_deeply_nested_json_with_a_valid_signature_is_refused(site: Site) -> None:
    deep = b"[" * 9000 + b"]" * 9000  # json.loads alone would hit the recursion limit
    r = _signed(site, deep)
    assert r.status_code == 400 and "nested deeper" in r.json()["error"]
    seventeen = b"[" * 17 + b"]" * 17
    assert _signed(site, seventeen).status_code == 400
    in_a_string = json.dumps([event("open", BEN, "s1", url="https://x.example/" + "[" * 500)])
    assert _signed(site, in_a_string.encode()).status_code == 200  # brackets in strings are text
    nested_args = [event("open", BEN, "n1", category=["a", {"b": [[["c"]]]}])]
    assert _signed(site, json.dumps(nested_args).encode()).status_code == 200


def test_out_of_range_numbers_in_a_signed_body_are_refused(site: Site) -> None:
    for bad in (
        [event("open", BEN, "t1", timestamp=10**20)],
        [event("open", BEN, "t2", issue_id="9" * 30)],
        [event("open", BEN, "t3", issue_id=2**70)],
        [event("open", BEN, "t4", issue_id="\u0661")],  # an Arabic-Indic digit is not a number
    ):
        r = _signed(site, json.dumps(bad).encode())
        assert r.status_code == 400, bad
    huge_number = b'[{"event":"open","email":"a@example.org","sg_event_id":"x","n":' + b"7" * 5000
    assert _signed(site, huge_number + b"}]").status_code == 400


def _noise(rng: random.Random, site: Site) -> tuple[bytes, dict[str, str]]:
    """One malformed request: broken JSON, odd values, odd headers, signed or not."""
    pieces = [b"[", b"]", b"{", b"}", b'"', b"\\", b",", b":", b"1e999", b"-0", b"null", b"true"]
    pieces += [b'"event"', b'"email"', b'"sg_event_id"', b'"timestamp"', b'"issue_id"', b"\xff"]
    pieces += [b"9" * rng.randint(1, 5000), b'"\\ud800"', b"[" * rng.randint(1, 3000), b" "]
    shape = rng.randrange(3)
    if shape == 0:
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
    elif shape == 1:
        value: Any = rng.choice([None, -1, 2**64, "", "x" * 3000, [], {}, 1.5, True, "\u0663"])
        key = rng.choice(["event", "email", "sg_event_id", "timestamp", "issue_id", "list"])
        body = json.dumps([{**event("bounce", BEN, f"f{rng.random()}"), key: value}]).encode()
    else:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    headers = sign_webhook(site.webhook_key, body, NOW)
    mangle = rng.randrange(5)
    if mangle == 1:
        headers[TIMESTAMP] = rng.choice(["", "9" * rng.randint(1, 6000), "12a", "١٢", "-5"])
    elif mangle == 2:
        headers[SIGNATURE] = rng.choice(["", "=" * 300, "A" * rng.randint(1, 9000), "%%%"])
    elif mangle == 3:
        headers.pop(rng.choice([TIMESTAMP, SIGNATURE]))
    return body, headers


def test_no_input_makes_the_webhook_fail(site: Site) -> None:
    rng = random.Random(14)
    seen = set()
    with httpx.Client(base_url=site.url, timeout=web_client.TIMEOUT) as client:
        for _ in range(150):
            body, headers = _noise(rng, site)
            raw = {k: v.encode("utf-8") for k, v in headers.items()}  # non-ASCII bytes too
            r = client.post("/webhooks/sendgrid", content=body, headers=raw)
            assert r.status_code in (200, 400, 403, 413), (r.status_code, body[:200], headers)
            assert r.headers["content-type"] == "application/json"
            seen.add(r.status_code)
    assert seen >= {400, 403}
