"""Links in feeds never reach non-public addresses (issue 14, item 1).

The operator's feed URL is trusted wherever it points; the article pages fetched for full
text come from feed content, so their addresses are checked after DNS, at every redirect, and
the connection is pinned to the checked address. These servers all live on loopback, which a
feed may reach only when its source lists the network in ``allow_networks``.
"""

from __future__ import annotations

import email
import ipaddress
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from digest.sources.feed.netguard import AddressRefused, check_address, non_public_kind

from .cli_helpers import run_digest
from .feedserver import FeedServer, Reply, feed_source, server_fixture  # noqa: F401

SECRET = "Admin console: the root password is hunter2-7f3a"
EXCERPT = "The finance ministers met in Lusaka"
INTERNAL_PAGE = (
    "<!DOCTYPE html><html><head><title>Admin</title></head><body><main><article>"
    "<h1>Internal admin</h1>"
    + "".join(
        f"<p>{SECRET}. Paragraph {i} of the internal page, which holds enough words to look "
        "like an article to the extractor and so would replace the feed's short excerpt.</p>"
        for i in range(6)
    )
    + "</article></main></body></html>"
)


def excerpt_feed(link: str) -> str:
    """RSS with one fresh post whose description is cut with "[…]", so full text is wanted."""
    when = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
        f"<item><title>Budget talks in Lusaka</title><link>{link}</link>"
        f"<pubDate>{when}</pubDate><description>{EXCERPT} [&#8230;]</description></item>"
        "</channel></rss>"
    )


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """The "internal admin" service on loopback that no feed should reach."""
    srv = FeedServer()
    srv.feed("/internal-admin/secret", INTERNAL_PAGE, "text/html; charset=utf-8")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def add_feed(project: Path, url: str, extra: str = "") -> None:
    path = project / "config.toml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + f'\n[[sources]]\nname = "blog"\ntype = "feed"\nurl = "{url}"\n'
        + 'retries = 0\nread_timeout = 60\ntotal_timeout = 120\nfull_text = "auto"\n'
        + extra,
        encoding="utf-8",
    )


def bodies(project: Path) -> list[str]:
    """Every outbox message's text and HTML parts, and the archive pages."""
    found: list[str] = []
    for eml in sorted((project / "outbox").rglob("*.eml")):
        msg: EmailMessage = email.message_from_bytes(eml.read_bytes(), policy=policy.default)  # type: ignore[assignment]
        for kind in ("plain", "html"):
            part = msg.get_body((kind,))
            assert part is not None
            found.append(part.get_content())
    found += [p.read_text(encoding="utf-8") for p in (project / "archive").rglob("*.html")]
    return found


def test_a_feed_link_to_an_internal_address_is_not_fetched_and_the_excerpt_is_mailed(
    project: Path, server: FeedServer, internal: FeedServer
) -> None:
    link = internal.url("/internal-admin/secret")
    add_feed(project, server.feed("/feed.xml", excerpt_feed(link)))
    collected = run_digest(project, "collect", "--json")
    assert collected.returncode == 0, collected.stderr
    skipped: list[dict[str, Any]] = json.loads(collected.stdout)["skipped"]
    (report,) = [s for s in skipped if s["source"] == "blog"]
    assert report["where"] == link
    assert "refused: 127.0.0.1 is a loopback address" in report["problem"]
    assert internal.seen == []  # the internal server was never asked
    sent = run_digest(project, "run")
    assert sent.returncode == 0, sent.stderr
    everything = bodies(project)
    assert len(everything) > 2
    assert not any("hunter2" in body for body in everything)
    assert any("Budget talks in Lusaka" in b and EXCERPT in b for b in everything)
    assert internal.seen == []


def test_an_operator_opts_a_network_in_with_allow_networks(
    server: FeedServer, internal: FeedServer
) -> None:
    link = internal.url("/internal-admin/secret")
    url = server.feed("/feed.xml", excerpt_feed(link))
    refused = feed_source(url, full_text="auto").collect({})
    assert refused.posts[0].text == EXCERPT and internal.seen == []
    allowed = feed_source(url, full_text="auto", allow_networks=("127.0.0.0/8",)).collect({})
    assert "hunter2" in allowed.posts[0].text and allowed.problems == ()
    assert len(internal.hits("/internal-admin/secret")) == 1


def test_a_redirect_from_an_allowed_host_to_loopback_is_refused(
    server: FeedServer, internal: FeedServer
) -> None:
    allowed = FeedServer(host="127.0.0.2").start()  # stands in for a public blog
    try:
        secret = internal.url("/internal-admin/secret")
        article = allowed.add("/post/1", Reply(302, headers={"Location": secret}))
        url = server.feed("/feed.xml", excerpt_feed(article))
        report = feed_source(url, full_text="auto", allow_networks=("127.0.0.2/32",)).collect({})
        assert len(allowed.hits("/post/1")) == 1  # the allowed hop was made ...
        assert internal.seen == []  # ... the redirect to loopback was not
        assert report.posts[0].text == EXCERPT
        (problem,) = report.problems
        assert problem.source == "feed" and problem.where == article
        assert "127.0.0.1 is a loopback address" in problem.message
    finally:
        allowed.stop()


@pytest.mark.parametrize(
    "host", ["localhost", "[::ffff:127.0.0.1]", "0.0.0.0", "2130706433", "127.1", "0x7f.1"]
)
def test_every_spelling_of_loopback_is_refused(
    server: FeedServer, internal: FeedServer, host: str
) -> None:
    link = f"http://{host}:{internal.port}/internal-admin/secret"
    report = feed_source(server.feed("/feed.xml", excerpt_feed(link)), full_text=True).collect({})
    assert internal.seen == []
    assert report.posts[0].text == EXCERPT
    (problem,) = report.problems
    assert problem.where == link and "refused:" in problem.message


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the resolver answers with the given addresses, one answer per lookup in turn."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            queue = answers[host]
            address = queue.pop(0) if len(queue) > 1 else queue[0]
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    return answers


def test_a_name_that_resolves_to_loopback_is_refused(
    server: FeedServer, internal: FeedServer, dns: dict[str, list[str]]
) -> None:
    dns["blog.example.org"] = ["127.0.0.1"]
    link = f"http://blog.example.org:{internal.port}/internal-admin/secret"
    report = feed_source(server.feed("/feed.xml", excerpt_feed(link)), full_text=True).collect({})
    assert internal.seen == []
    assert "blog.example.org is 127.0.0.1, a loopback address" in report.problems[0].message


def same_port(first: str, second: str) -> tuple[FeedServer, FeedServer]:
    """Two started servers on one port number of two loopback addresses."""
    for _ in range(20):
        one = FeedServer(host=first)
        try:
            two = FeedServer(host=second, port=one.port)
        except OSError:  # that port is taken on the second address; try another
            one.httpd.server_close()
            continue
        return one.start(), two.start()
    raise AssertionError("no port free on both addresses")


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(
    server: FeedServer, dns: dict[str, list[str]]
) -> None:
    allowed, internal = same_port("127.0.0.2", "127.0.0.1")
    try:
        for srv in (allowed, internal):
            srv.feed("/internal-admin/secret", INTERNAL_PAGE, "text/html")
        dns["rebind.example.org"] = ["127.0.0.2", "127.0.0.1"]  # checked, then swapped
        link = f"http://rebind.example.org:{allowed.port}/internal-admin/secret"
        url = server.feed("/feed.xml", excerpt_feed(link))
        feed_source(url, full_text=True, allow_networks=("127.0.0.2/32",)).collect({})
        assert len(allowed.seen) == 1 and internal.seen == []
        assert allowed.seen[0].headers["host"] == f"rebind.example.org:{allowed.port}"
    finally:
        internal.stop()
        allowed.stop()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::5db8:d822", None),  # NAT64 of a public address
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert non_public_kind(ipaddress.ip_address(address)) == kind


def test_allow_networks_match_mapped_addresses_and_nothing_else() -> None:
    loopback = (ipaddress.ip_network("127.0.0.0/8"),)
    check_address("h", ipaddress.ip_address("::ffff:127.0.0.1"), loopback)
    with pytest.raises(AddressRefused):
        check_address("h", ipaddress.ip_address("::1"), loopback)
    with pytest.raises(AddressRefused):
        check_address("h", ipaddress.ip_address("10.0.0.1"), loopback)
