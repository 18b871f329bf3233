"""Who gets into the editors' desk: this machine only, or editors with the token; never open."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.config.load import load_settings
from digest.errors import ConfigError
from digest.web.desk.auth import desk_access, is_loopback, loopback_host
from digest.web.desk.throttle import OVERALL, PER_CLIENT, client_key
from tests.cli_helpers import cli_env, run_digest
from tests.desk_setup import TOKEN, DeskSite, open_desk


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("digest.example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_desk_will_not_be_created_open_on_a_public_address(project: Path) -> None:
    settings = load_settings(project / "config.toml")
    for host in ("0.0.0.0", "::", "203.0.113.7"):
        with pytest.raises(ConfigError, match="refusing to serve the editors' desk open"):
            desk_access(settings, host, environ={})
    with pytest.raises(ConfigError, match="too weak"):
        desk_access(settings, "0.0.0.0", environ={"DIGEST_DESK_TOKEN": "short"})
    assert desk_access(settings, "0.0.0.0", environ={"DIGEST_DESK_TOKEN": TOKEN}).login_required
    assert not desk_access(settings, "127.0.0.1", environ={}).login_required


def test_digest_serve_refuses_to_start_on_a_public_address_without_a_token(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_SIGNING_KEY", "serve-test-signing-key-0123456789")
    monkeypatch.delenv("DIGEST_DESK_TOKEN", raising=False)
    config = str(project / "config.toml")
    result = CliRunner().invoke(main, ["--config", config, "serve", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "refusing to serve the editors' desk open on 0.0.0.0" in result.output
    assert "DIGEST_DESK_TOKEN" in result.output
    assert "serving" not in result.output


def test_loopback_desk_refuses_other_hosts_and_proxied_requests(
    project: Path, live_server: Callable[[Any], str]
) -> None:
    site = open_desk(project, live_server)
    with httpx.Client(base_url=site.desk, timeout=120) as client:
        assert client.get("/").status_code == 200
        rebound = client.get("/", headers={"host": "attacker.example"})
        assert rebound.status_code == 403  # DNS rebinding: a page on another name
        proxied = client.get("/", headers={"x-forwarded-for": "198.51.100.4"})
        assert proxied.status_code == 403
        assert client.get("/", headers={"forwarded": "for=198.51.100.4"}).status_code == 403


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:8025", True),
        ("localhost", True),
        ("LocalHost:8025", True),
        ("[::1]", True),
        ("[::1]:8025", True),
        ("127.0.0.2:8025", True),
        ("digest.example.org", False),
        ("digest.example.org:443", False),
        ("desk.localhost", False),
        ("localhost.", False),
        ("127.0.0.1.nip.io", False),
        ("127.0.0.1:80:80", False),
        ("::1", False),
        ("", False),
    ],
)
def test_loopback_host_headers(host: str, loopback: bool) -> None:
    assert loopback_host(host) is loopback


def test_loopback_desk_refuses_a_proxy_that_rewrites_the_host(
    project: Path, live_server: Callable[[Any], str]
) -> None:
    """nginx's default proxy_pass relays from loopback with no X-Forwarded-For header."""
    site = open_desk(project, live_server)
    with httpx.Client(base_url=site.desk, timeout=120) as client:
        for host in ("digest.example.org", "desk.localhost", "desk.localhost:8025"):
            answer = client.get("/", headers={"host": host})
            assert answer.status_code == 403, host
            assert "set $DIGEST_DESK_TOKEN" in answer.text  # the hint names the way out
            assert "Rosa" not in answer.text and "data-csrf" not in answer.text
        assert (
            client.post("/lists/weekly/approve", headers={"host": "desk.localhost"}).status_code
            == 403
        )
        for host in ("localhost", f"localhost:{client.base_url.port}", "127.0.0.1"):
            assert client.get("/", headers={"host": host}).status_code == 200, host


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DIGEST_DESK_TOKEN", " " * 16),
        ("DIGEST_DESK_TOKEN", " " * 40),
        ("DIGEST_DESK_TOKEN", "a" * 40),
        ("DIGEST_DESK_TOKEN", "ab" * 20),
        ("DIGEST_DESK_TOKEN", "desk-token-0123456789abcdef"),  # 27 characters
        ("DIGEST_SIGNING_KEY", "a" * 16),
        ("DIGEST_SIGNING_KEY", "a" * 64),
        ("DIGEST_SIGNING_KEY", "0123456789abcdef"),
    ],
)
def test_digest_serve_refuses_weak_secrets(project: Path, variable: str, value: str) -> None:
    env = {"DIGEST_SIGNING_KEY": "serve-test-signing-key-0123456789", "DIGEST_DESK_TOKEN": TOKEN}
    env[variable] = value
    result = run_digest(project, "serve", "--port", "0", env=cli_env(**env))  # loopback
    assert result.returncode == 2, result.stderr
    assert f"${variable} is too weak" in result.stderr and "Traceback" not in result.stderr
    assert not value.strip() or value not in result.stderr  # never echoed
    assert "Uvicorn running" not in result.stderr


@pytest.fixture
def token_site(
    project: Path, live_server: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch
) -> DeskSite:
    monkeypatch.setenv("DIGEST_DESK_TOKEN", TOKEN)
    return open_desk(project, live_server, host="0.0.0.0")


def _login(client: httpx.Client, name: str, token: str) -> httpx.Response:
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return client.post("/login", data={"csrf": found.group(1), "name": name, "token": token})


def test_off_loopback_every_editor_route_needs_the_login(token_site: DeskSite) -> None:
    post = token_site.post_id("WTO")
    with token_site.client() as client:
        for path in ("/", "/lists/weekly", "/lists/weekly/preview", "/events"):
            answer = client.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/desk/login"
        for path in (f"/lists/weekly/posts/{post}", "/lists/weekly/approve", "/lists/weekly/test"):
            assert client.post(path, data={"action": "pin"}).status_code == 401
        assert client.get("/login").status_code == 200
        assert client.get("/assets/desk.css").status_code == 200
    assert token_site.store.posts.edits(post) == []


def test_login_with_the_token_records_the_editors_name(token_site: DeskSite) -> None:
    post = token_site.post_id("WTO")
    with token_site.client() as client:
        wrong = _login(client, "Mallory", "not-the-token-at-all-000")
        assert wrong.status_code == 401 and "not right" in wrong.text
        assert client.get("/lists/weekly").status_code == 303
        answer = _login(client, "Rosa Editor", TOKEN)
        assert answer.status_code == 303 and answer.headers["location"] == "/desk/"
        page = client.get("/lists/weekly")
        assert page.status_code == 200 and "Rosa Editor" in page.text
        token = token_site.csrf(client)
        pinned = client.post(
            f"/lists/weekly/posts/{post}",
            data={"action": "pin"},
            headers={"x-csrf-token": token, "accept": "application/json"},
        )
        assert pinned.status_code == 200
        logout = client.post("/logout", data={"csrf": token})
        assert logout.status_code == 303
        assert client.get("/lists/weekly").status_code == 303
    assert token_site.store.posts.edits(post)[0][:3] == ("pin", None, "Rosa Editor")


def test_a_forged_session_cookie_is_ignored(token_site: DeskSite) -> None:
    with token_site.client() as client:
        client.cookies.set("digest_desk", "eyJuIjoieCIsImEiOiJldmUiLCJ0IjoxfQ.deadbeef")
        assert client.get("/lists/weekly").status_code == 303


def test_failed_logins_are_throttled_per_address(token_site: DeskSite) -> None:
    with token_site.client() as client:
        answers = [_login(client, "Mallory", f"guess-{i:04d}-{'x' * 30}") for i in range(20)]
        codes = [a.status_code for a in answers]
        assert codes.count(401) == PER_CLIENT and codes.count(429) == 20 - PER_CLIENT
        assert codes[:PER_CLIENT] == [401] * PER_CLIENT  # the first tries are judged
        refused = answers[-1]
        assert int(refused.headers["retry-after"]) > 0 and "Too many failed logins" in refused.text
        right = _login(client, "Rosa Editor", TOKEN)  # even the right token waits its turn
        assert right.status_code == 429 and client.get("/lists/weekly").status_code == 303
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=token_site.desk, timeout=120, transport=other) as elsewhere:
        assert _login(elsewhere, "Rosa Editor", TOKEN).status_code == 303


def test_failed_logins_from_many_addresses_are_throttled_overall(token_site: DeskSite) -> None:
    codes = []
    for n in range(OVERALL // PER_CLIENT + 2):
        transport = httpx.HTTPTransport(local_address=f"127.0.1.{n + 1}")
        with httpx.Client(base_url=token_site.desk, timeout=120, transport=transport) as client:
            for i in range(PER_CLIENT):
                codes.append(_login(client, "Mallory", f"guess-{n}-{i}-{'y' * 30}").status_code)
    assert codes.count(401) == OVERALL and codes.count(429) == len(codes) - OVERALL
    fresh = httpx.HTTPTransport(local_address="127.0.2.1")
    with httpx.Client(base_url=token_site.desk, timeout=120, transport=fresh) as client:
        assert _login(client, "Rosa Editor", TOKEN).status_code == 429


def test_a_successful_login_clears_the_address_count(token_site: DeskSite) -> None:
    with token_site.client() as client:
        for round_ in range(3):
            for i in range(PER_CLIENT - 1):
                assert _login(client, "Ed", f"wrong-{round_}-{i}-{'z' * 30}").status_code == 401
            assert _login(client, "Ed", TOKEN).status_code == 303
            client.cookies.clear()


def test_ipv6_clients_are_counted_by_their_64_block() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9")
    assert client_key("2001:db8:1:2::1") != client_key("2001:db8:1:3::1")
    assert client_key("198.51.100.4") == "198.51.100.4"
