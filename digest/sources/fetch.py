"""HTTP fetching for feeds and article pages: conditional, bounded, retried, polite."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from .. import __version__
from ..errors import SourceError

log = logging.getLogger(__name__)
if logging.getLogger("httpx").level == logging.NOTSET:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request is noise

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
PER_HOST = 2
"""At most this many requests to one host at a time, across all sources."""
_REDIRECTS = {301, 302, 303, 307, 308}


def user_agent(base_url: str) -> str:
    """The descriptive User-Agent digest sends: its name, version and a page about it."""
    return f"digest/{__version__} (+{base_url})"


@dataclass(frozen=True, slots=True)
class Limits:
    """How long to wait, how much to read, how often to retry."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 1.0
    max_retry_after: float = 120.0


@dataclass(frozen=True, slots=True)
class Response:
    """A fetched resource: final URL after redirects, status, headers and the decoded body."""

    url: str
    status: int
    headers: httpx.Headers
    content: bytes = b""

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", ""))


class FetchError(SourceError):
    """A fetch failed; ``retryable`` failures (timeouts, 5xx, 429) may be tried again."""

    def __init__(
        self, message: str, *, url: str, retryable: bool = False, retry_after: float | None = None
    ):
        super().__init__(message, subject=url)
        self.retryable = retryable
        self.retry_after = retry_after


class Gone(FetchError):
    """HTTP 410: the resource is gone for good."""


class _Deadline(Exception):
    pass


_client: httpx.Client | None = None
_client_lock = threading.Lock()
_hosts: dict[str, threading.BoundedSemaphore] = {}


def shared_client() -> httpx.Client:
    """One connection pool for every source in this process (httpx clients are thread-safe)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                follow_redirects=False,
            )
        return _client


@contextmanager
def _host_slot(url: str) -> Iterator[None]:
    host = (urlsplit(url).hostname or "").lower()
    with _client_lock:
        slot = _hosts.setdefault(host, threading.BoundedSemaphore(PER_HOST))
    with slot:
        yield


def fetch(
    url: str,
    limits: Limits,
    agent: str,
    *,
    validators: Mapping[str, str] | None = None,
    accept: str = FEED_ACCEPT,
    sleep: Callable[[float], None] = time.sleep,
) -> Response:
    """GET ``url``; retry timeouts, 5xx and 429 with backoff and jitter, honouring Retry-After."""
    attempt = 0
    while True:
        try:
            return _fetch_once(url, limits, agent, validators or {}, accept)
        except FetchError as exc:
            if not exc.retryable or attempt >= limits.retries:
                raise
            if exc.retry_after is not None:
                delay = exc.retry_after
                if delay > limits.max_retry_after:
                    raise FetchError(
                        f"{exc.message}; the server asked to wait {delay:.0f}s", url=url
                    ) from None
            else:
                delay = limits.backoff * 2**attempt * (0.5 + random.random())
            attempt += 1
            log.info("%s: %s; retry %d in %.2fs", url, exc.message, attempt, delay)
            sleep(delay)


def _fetch_once(
    url: str, limits: Limits, agent: str, validators: Mapping[str, str], accept: str
) -> Response:
    headers = {"User-Agent": agent, "Accept": accept}
    if validators.get("etag"):
        headers["If-None-Match"] = validators["etag"]
    if validators.get("last_modified"):
        headers["If-Modified-Since"] = validators["last_modified"]
    timeout = httpx.Timeout(
        connect=limits.connect_timeout,
        read=limits.read_timeout,
        write=limits.read_timeout,
        pool=limits.total_timeout,
    )
    seen = {url}
    current = url
    for _ in range(limits.max_redirects + 1):
        if urlsplit(current).scheme not in ("http", "https"):
            raise FetchError(f"not an http(s) URL: {current}", url=url)
        try:
            with (
                _host_slot(current),
                shared_client().stream("GET", current, headers=headers, timeout=timeout) as resp,
            ):
                if resp.status_code in _REDIRECTS and "location" in resp.headers:
                    target = urljoin(current, resp.headers["location"])
                    if target in seen:
                        raise FetchError(f"redirect loop at {target}", url=url)
                    seen.add(target)
                    current = target
                    continue
                _check_status(resp, url)
                body = b"" if resp.status_code == 304 else _read(resp, limits, url)
                return Response(str(resp.url), resp.status_code, resp.headers, body)
        except httpx.HTTPError as exc:
            raise _explain(exc, url, limits) from None
        except _Deadline:
            raise FetchError(
                f"timed out: still downloading after {limits.total_timeout:g}s",
                url=url,
                retryable=True,
            ) from None
    raise FetchError(f"too many redirects (more than {limits.max_redirects})", url=url)


def _check_status(resp: httpx.Response, url: str) -> None:
    status = resp.status_code
    if status == 304 or 200 <= status < 300:
        return
    what = f"HTTP {status} {resp.reason_phrase}".strip()
    if status == 410:
        raise Gone(what, url=url)
    if status in (429, 503):
        raise FetchError(
            what, url=url, retryable=True, retry_after=retry_after(resp.headers.get("retry-after"))
        )
    raise FetchError(what, url=url, retryable=status >= 500)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _read(resp: httpx.Response, limits: Limits, url: str) -> bytes:
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchError(_too_big(limits, f"{int(declared):,} bytes declared"), url=url)
    deadline = time.monotonic() + limits.total_timeout
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_bytes():
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchError(_too_big(limits, "stopped reading"), url=url)
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise _Deadline()
    return b"".join(chunks)


def _too_big(limits: Limits, detail: str) -> str:
    return f"body over the size limit of {limits.max_bytes:,} bytes ({detail})"


def _explain(exc: httpx.HTTPError, url: str, limits: Limits) -> FetchError:
    """A one-line reason for a transport failure, marked retryable for timeouts."""
    if isinstance(exc, httpx.ConnectTimeout):
        msg = f"timed out connecting (after {limits.connect_timeout:g}s)"
        return FetchError(msg, url=url, retryable=True)
    if isinstance(exc, httpx.TimeoutException):
        msg = f"timed out waiting for data (nothing for {limits.read_timeout:g}s)"
        return FetchError(msg, url=url, retryable=True)
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        host = urlsplit(url).hostname or url
        if any(s in text for s in ("Name or service", "nodename", "getaddrinfo", "No address")):
            return FetchError(f"DNS lookup failed for {host}", url=url)
        if "refused" in text.lower():
            return FetchError(f"connection refused by {host}", url=url)
        return FetchError(f"cannot connect to {host}: {text}", url=url)
    if isinstance(exc, httpx.DecodingError):
        return FetchError(f"cannot decode the compressed body: {exc}", url=url)
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchError(f"the server broke off the response: {exc}", url=url, retryable=True)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return FetchError(f"invalid URL: {exc}", url=url)
    return FetchError(f"{type(exc).__name__}: {exc}", url=url)
