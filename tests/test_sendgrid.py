"""The SendGrid backend against the local fake: request shape, spec validity, every outcome."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from digest.delivery.base import SendAborted
from digest.delivery.options import SendGridOptions
from digest.delivery.sendgrid import SendGridBackend, make_sendgrid, request_body
from digest.errors import ConfigError
from digest.models import Envelope, Recipient, RenderedEmail
from digest.placeholders import Placeholders

from .delivery_helpers import API_KEY
from .fake_sendgrid import Action, FakeSendGrid, limit_violations

P = Placeholders("0123456789abcdef01234567")
EMAIL = RenderedEmail(
    subject=f"Weekly #7 for {P.name}",
    preheader="pre",
    html=f"<p>Hi {P.name_html}, <a href='{P.unsubscribe_url}'>unsubscribe</a></p>",
    text=f"Hi {P.name}\nUnsubscribe: {P.unsubscribe_url}\nPreferences: {P.preferences_url}",
    mjml="",
    placeholders=P,
)
ENVELOPE = Envelope(
    list_name="weekly",
    issue_id=7,
    issue_key="2026-11-30-7",
    email=EMAIL,
    from_address="digest@example.org",
    from_name="Policy Blogs Weekly",
    reply_to="editors@example.org",
    unsubscribe_mailto="unsubscribe@example.org",
    categories=("weekly", "issue-2026-11-30-7"),
    chunk="c0ffee",
)


def recipients(n: int, start: int = 1) -> list[Recipient]:
    return [
        Recipient(
            i,
            f"reader{i}@example.org",
            f"Reader, No. {i}",
            f"https://digest.example.org/unsubscribe/t{i}",
            f"https://digest.example.org/preferences/t{i}",
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(API_KEY) as server:
        yield server


def backend(fake: FakeSendGrid, key: str = API_KEY, **options: Any) -> SendGridBackend:
    settings = {"backoff": 0.001, "backoff_max": 0.01, "timeout": 120.0} | options
    return SendGridBackend(SendGridOptions(host=fake.url, **settings), key)


def test_a_full_chunk_is_one_valid_request_with_everything_per_recipient(
    fake: FakeSendGrid,
) -> None:
    sg = backend(fake, asm_group_id=42, sandbox_mode=True)
    results = sg.deliver(ENVELOPE, recipients(1000))
    assert fake.violations == []
    assert [r.status for r in results] == ["accepted"] * 1000
    (request,) = fake.requests
    assert {r.message_id for r in results} == {request.message_id}
    assert len(request.emails) == len(set(request.emails)) == 1000
    body = request.body
    assert body["categories"] == ["weekly", "issue-2026-11-30-7"]
    assert body["asm"] == {"group_id": 42}
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    first = body["personalizations"][0]
    assert first["to"] == [{"email": "reader1@example.org", "name": '"Reader, No. 1"'}]
    subs = first["substitutions"]
    assert subs[P.token("unsubscribe_url", "html")].endswith("/unsubscribe/t1")
    assert subs[P.token("unsubscribe_url", "text")].endswith("/unsubscribe/t1")
    assert subs[P.token("name_html", "html")] == "Reader, No. 1"
    assert subs[P.token("name", "header")] == "Reader, No. 1"
    assert first["headers"] == {
        "List-Unsubscribe": "<https://digest.example.org/unsubscribe/t1>, "
        "<mailto:unsubscribe@example.org?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert first["custom_args"] == {"issue_id": "7", "list": "weekly", "chunk": "c0ffee"}


def test_the_fake_rejects_what_sendgrid_would(fake: FakeSendGrid) -> None:
    body, _, _ = request_body(ENVELOPE, recipients(2), SendGridOptions())
    assert fake.check(body) == []
    bad = dict(body, custom_args={"issue_id": "7"})  # the spec wants a string up here
    assert any(field == "custom_args" for _, field in fake.check(bad))
    twice = dict(body, personalizations=body["personalizations"] * 2)
    assert any("duplicate" in m for m, _ in limit_violations(twice))
    big, _, _ = request_body(ENVELOPE, recipients(1001), SendGridOptions())
    assert any("personalizations" in f for _, f in fake.check(big))


def test_each_address_goes_once_per_request(fake: FakeSendGrid) -> None:
    rs = recipients(3)
    clash = Recipient(99, "READER2@example.org", "", "https://u/99", "https://p/99")
    results = {r.subscriber_id: r for r in backend(fake).deliver(ENVELOPE, [*rs, clash])}
    assert results[99].status == "retry" and results[2].status == "accepted"
    assert fake.violations == []


def test_rate_limits_and_server_errors_are_retried_to_success(fake: FakeSendGrid) -> None:
    fake.script(Action("429", reset_in=0), Action("429", reset_in=None), "500", "500")
    results = backend(fake).deliver(ENVELOPE, recipients(5))
    assert {r.status for r in results} == {"accepted"}
    assert fake.answers[429] == 2 and fake.answers[500] == 2
    assert len(fake.requests) == 1


def test_retries_are_bounded_and_nothing_is_lost(fake: FakeSendGrid) -> None:
    fake.script(*["500"] * 3)
    results = backend(fake, max_retries=2).deliver(ENVELOPE, recipients(2))
    assert {r.status for r in results} == {"retry"}
    assert fake.requests == []


def test_a_bad_request_fails_the_chunk_with_sendgrids_reasons(fake: FakeSendGrid) -> None:
    fake.script(Action("400", errors=({"message": "Invalid email", "field": "to.email"},)))
    results = backend(fake).deliver(ENVELOPE, recipients(2))
    assert {r.status for r in results} == {"failed"}
    assert results[0].error == "SendGrid 400: Invalid email (field: to.email)"
    assert fake.answers[400] == 1  # never retried


def test_a_wrong_key_stops_the_send_as_a_configuration_error(fake: FakeSendGrid) -> None:
    with pytest.raises(SendAborted) as caught:
        backend(fake, key="SG.wrong").deliver(ENVELOPE, recipients(2))
    assert {r.status for r in caught.value.results} == {"retry"}  # planned again, not failed
    assert caught.value.exit_code == 2 and "SENDGRID_API_KEY" in str(caught.value)
    assert "401" in str(caught.value) and fake.answers[401] == 1


@pytest.mark.parametrize("action", ["drop", "hang"])
def test_a_lost_answer_is_unknown_and_never_resent(fake: FakeSendGrid, action: str) -> None:
    fake.script(action)
    results = backend(fake, timeout=0.3).deliver(ENVELOPE, recipients(2))
    assert {r.status for r in results} == {"unknown"}
    assert len(fake.requests) == 1  # it went out once, and the backend did not try again


def test_a_refused_connection_is_retried_then_handed_back() -> None:
    sg = SendGridBackend(
        SendGridOptions(host="http://127.0.0.1:9", max_retries=1, backoff=0.001), API_KEY
    )
    assert {r.status for r in sg.deliver(ENVELOPE, recipients(2))} == {"retry"}


def test_every_thread_has_its_own_client_with_a_timeout(fake: FakeSendGrid) -> None:
    sg = backend(fake, timeout=7.0)
    clients: list[Any] = []
    threads = [threading.Thread(target=lambda: clients.append(sg.client())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in clients}) == 3
    assert all(c.client.timeout == 7.0 for c in clients)
    assert sg.client() is sg.client()


def test_the_key_comes_from_the_environment(project: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.config.load import load_settings

    from .delivery_helpers import use_backend

    settings = load_settings(use_backend(project, "sendgrid", api_key_env="MY_SG_KEY"))
    monkeypatch.delenv("MY_SG_KEY", raising=False)
    with pytest.raises(ConfigError, match="MY_SG_KEY"):
        make_sendgrid(settings)
    monkeypatch.setenv("MY_SG_KEY", "SG.from-env")
    assert make_sendgrid(settings).api_key == "SG.from-env"


def test_a_connect_timeout_is_retried_not_unknown() -> None:
    """Nothing was sent before the connection was up: it is safe to try again."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # never accepts: once its queue is full, connects time out
    port = listener.getsockname()[1]
    queued = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        queued.append(s)
    options = SendGridOptions(
        host=f"http://127.0.0.1:{port}", timeout=0.3, max_retries=1, backoff=0.001
    )
    try:
        results = SendGridBackend(options, API_KEY).deliver(ENVELOPE, recipients(2))
    finally:
        for s in (*queued, listener):
            s.close()
    assert {r.status for r in results} == {"retry"}
    assert all("could not send" in (r.error or "") for r in results)
