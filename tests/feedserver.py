"""A real threaded HTTP server on 127.0.0.1 that serves feeds, hostile ones included."""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digest.sources.feed.fetch import user_agent
from digest.sources.feed.source import FeedOptions, FeedSource
from digest.taxonomy import Taxonomy

FEEDS = Path(__file__).parent / "feeds"
Body = bytes | Callable[[], Iterable[bytes]]


@dataclass
class Reply:
    """One canned response; ``body`` may be a generator factory for streamed bodies."""

    status: int = 200
    body: Body = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    pause: float = 0.0
    """Seconds to wait between streamed chunks (a trickling server)."""


@dataclass
class Seen:
    """A request the server received."""

    path: str
    headers: dict[str, str]


class FeedServer:
    """Routes paths to replies; a list of replies is served in turn, the last one repeating."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"feeds": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def add(self, path: str, *replies: Reply) -> str:
        """Serve ``replies`` at ``path``; return its URL."""
        self.routes[path] = list(replies)
        return self.url(path)

    def feed(self, path: str, body: bytes | str, content_type: str | None = None) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return self.add(path, Reply(body=data, content_type=content_type or _guess(path)))

    def file(self, name: str, path: str | None = None) -> str:
        """Serve ``tests/feeds/<name>``."""
        return self.feed(path or f"/{name}", (FEEDS / name).read_bytes(), _guess(name))

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def next_reply(self, path: str) -> Reply | None:
        with self.lock:
            replies = self.routes.get(path)
            if not replies:
                return None
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _guess(name: str) -> str:
    if name.endswith(".json"):
        return "application/feed+json"
    if name.endswith((".html", ".htm")):
        return "text/html; charset=utf-8"
    return "application/xml"


class _Handler(BaseHTTPRequestHandler):
    feeds: FeedServer
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        with self.feeds.lock:
            self.feeds.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
        reply = self.feeds.next_reply(path)
        if reply is None:
            self._simple(404, b"not found")
            return
        if reply.etag and self.headers.get("If-None-Match") == reply.etag:
            self._simple(304, b"")
            return
        if reply.last_modified and self.headers.get("If-Modified-Since") == reply.last_modified:
            self._simple(304, b"")
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(reply)  # a client that hangs up on a hostile reply is doing its job

    def _simple(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.etag:
            self.send_header("ETag", reply.etag)
        if reply.last_modified:
            self.send_header("Last-Modified", reply.last_modified)
        if isinstance(reply.body, bytes):
            body = reply.body
            if reply.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body)
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.end_headers()
        for chunk in reply.body():
            self.wfile.write(chunk)
            self.wfile.flush()
            if reply.pause:
                time.sleep(reply.pause)


def endless(total: int, chunk: int = 64 * 1024) -> Callable[[], Iterator[bytes]]:
    """A body of ``total`` bytes, generated as it is sent."""

    def gen() -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>'
        block = b"<!-- " + b"x" * (chunk - 9) + b" -->"
        for _ in range(total // chunk):
            yield block

    return gen


def trickle(count: int) -> Callable[[], Iterator[bytes]]:
    """A body sent one byte at a time (pair with ``Reply.pause``)."""

    def gen() -> Iterator[bytes]:
        for _ in range(count):
            yield b" "

    return gen


class SlowLoris:
    """A raw socket server on 127.0.0.1 that answers every connection with response headers
    dribbled one byte per ``pause`` seconds, forever: each byte comes well within any read
    timeout, so only a deadline on the whole request stops a client."""

    def __init__(self, pause: float = 0.2) -> None:
        self.pause = pause
        self.connections = 0
        self.stopping = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"

    def start(self) -> SlowLoris:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._dribble, args=(conn,), daemon=True).start()

    def _dribble(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Slow: "
        with conn, contextlib.suppress(OSError):
            i = 0
            while not self.stopping.wait(self.pause):
                conn.sendall(head[i : i + 1] if i < len(head) else b"z")
                i += 1


@pytest.fixture(name="server")
def server_fixture() -> Iterator[FeedServer]:
    """A started FeedServer, stopped after the test."""
    srv = FeedServer().start()
    try:
        yield srv
    finally:
        srv.stop()


def feed_source(
    url: str,
    name: str = "feed",
    sleep: Callable[[float], None] = time.sleep,
    **options: object,
) -> FeedSource:
    """A FeedSource with the default project's taxonomy and test-sized limits.

    The timeouts are for fetches that must succeed, even on a busy machine; a test about a
    timeout passes its own short one and a server that never meets it."""
    from digest.config.load import load_settings

    settings = load_settings(Path(__file__).resolve().parent.parent / "config.toml")
    opts: dict[str, object] = {
        "retries": 0,
        "connect_timeout": 60.0,
        "read_timeout": 60.0,
        "total_timeout": 120.0,
        "backoff": 0.01,
        "full_text": False,
        **options,
    }
    return FeedSource(
        name,
        FeedOptions(url=url, **opts),  # type: ignore[arg-type]
        Taxonomy(settings.taxonomy),
        user_agent(settings.newsletter.base_url),
        sleep=sleep,
    )
