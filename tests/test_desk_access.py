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
from digest.config import load_settings
from digest.errors import ConfigError
from digest.web.desk_auth import desk_access, is_loopback
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
    with pytest.raises(ConfigError, match="too short"):
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
    with httpx.Client(base_url=site.desk) as client:
        assert client.get("/").status_code == 200
        rebound = client.get("/", headers={"host": "attacker.example"})
        assert rebound.status_code == 403  # DNS rebinding: a page on another name
        proxied = client.get("/", headers={"x-forwarded-for": "198.51.100.4"})
        assert proxied.status_code == 403
        assert client.get("/", headers={"forwarded": "for=198.51.100.4"}).status_code == 403


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
