"""HTTP fetching for feeds and article pages: conditional, bounded, retried, polite."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from ... import __version__
from ...errors import SourceError
from .netguard import AddressRefused, DeadlineExceeded, GuardedBackend, Network, deadline, time_left

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


class Refused(FetchError):
    """A URL from feed content leads to an address it may not reach (loopback, private, …)."""


Allow = tuple[Network, ...] | None
"""Addresses a fetch may reach: None for any (the operator's own URLs); a tuple for URLs from
feed content, which reach public addresses and those networks only."""

_clients: dict[Allow, httpx.Client] = {}
_client_lock = threading.Lock()
_hosts: dict[str, threading.BoundedSemaphore] = {}
_budget: ContextVar[float | None] = ContextVar("digest_collect_budget", default=None)


class _Transport(httpx.HTTPTransport):
    """httpx's transport over a pool whose connections go through a GuardedBackend."""

    def __init__(self, allow: Allow):
        super().__init__(trust_env=False)
        # httpx has no switch for the network backend; its pool is rebuilt with ours
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=32,
            max_keepalive_connections=16,
            network_backend=GuardedBackend(allow),
        )


def shared_client(allow: Allow = None) -> httpx.Client:
    """One connection pool per address policy in this process (httpx clients are thread-safe).

    Pools are kept apart so that a connection opened to a trusted feed host is never reused
    for a content URL that would have been refused.
    """
    with _client_lock:
        client = _clients.get(allow)
        if client is None:
            client = _clients[allow] = httpx.Client(
                transport=_Transport(allow), follow_redirects=False
            )
        return client


@contextmanager
def collect_budget(at: float | None) -> Iterator[None]:
    """Fetches made inside end by ``time.monotonic()`` = ``at``, whatever their own limits."""
    token = _budget.set(at)
    try:
        yield
    finally:
        _budget.reset(token)


def budget_end() -> float | None:
    """When the collect budget set by ``collect_budget`` ends (``time.monotonic()``), if set."""
    return _budget.get()


@contextmanager
def _host_slot(url: str) -> Iterator[None]:
    host = (urlsplit(url).hostname or "").lower()
    with _client_lock:
        slot = _hosts.setdefault(host, threading.BoundedSemaphore(PER_HOST))
    if not slot.acquire(timeout=time_left(None)):
        raise DeadlineExceeded()
    try:
        yield
    finally:
        slot.release()


def fetch(
    url: str,
    limits: Limits,
    agent: str,
    *,
    validators: Mapping[str, str] | None = None,
    accept: str = FEED_ACCEPT,
    sleep: Callable[[float], None] = time.sleep,
    allow: Allow,
) -> Response:
    """GET ``url``; retry timeouts, 5xx and 429 with backoff and jitter, honouring Retry-After.

    Each try must be over within ``limits.total_timeout`` from connect to last byte, and within
    the collect budget when one is set. ``allow`` says which addresses may be reached (see Allow).
    """
    attempt = 0
    while True:
        try:
            return _fetch_once(url, limits, agent, validators or {}, accept, allow)
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
            budget = _budget.get()
            if budget is not None and time.monotonic() + delay >= budget:
                message = f"{exc.message}; no retry: over the collect budget"
                raise FetchError(message, url=url) from None
            attempt += 1
            log.info("%s: %s; retry %d in %.2fs", url, exc.message, attempt, delay)
            sleep(delay)


def _fetch_once(
    url: str, limits: Limits, agent: str, validators: Mapping[str, str], accept: str, allow: Allow
) -> Response:
    budget = _budget.get()
    own = time.monotonic() + limits.total_timeout
    if budget is not None and budget <= own:
        at, why = budget, "stopped: over the collect budget"
        if budget <= time.monotonic():
            raise FetchError("not fetched: over the collect budget", url=url)
    else:
        at, why = own, f"timed out: no complete response after {limits.total_timeout:g}s"
    state = {"headers": False}
    try:
        with deadline(at):
            return _request(url, limits, agent, validators, accept, allow, state)
    except AddressRefused as exc:
        what = "is" if exc.host.strip("[]") == str(exc.address) else f"is {exc.address},"
        raise Refused(
            f"refused: {exc.host} {what} a {exc.kind} address "
            "(links in feeds may reach only public addresses; see allow_networks)",
            url=url,
        ) from None
    except (DeadlineExceeded, httpx.TimeoutException) as exc:
        if not isinstance(exc, DeadlineExceeded) and time.monotonic() < at:
            raise _explain(exc, url, limits) from None
        if state["headers"] and why.startswith("timed out"):
            why = f"timed out: still downloading after {limits.total_timeout:g}s"
        raise FetchError(why, url=url) from None  # not retried: the time is used up
    except httpx.HTTPError as exc:
        raise _explain(exc, url, limits) from None


def _request(
    url: str,
    limits: Limits,
    agent: str,
    validators: Mapping[str, str],
    accept: str,
    allow: Allow,
    state: dict[str, bool],
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
        state["headers"] = False
        with (
            _host_slot(current),
            shared_client(allow).stream("GET", current, headers=headers, timeout=timeout) as resp,
        ):
            state["headers"] = True
            if resp.status_code in _REDIRECTS and "location" in resp.headers:
                target = urljoin(current, resp.headers["location"])
                if target in seen:
                    raise FetchError(f"redirect loop at {target}", url=url)
                seen.add(target)
                current = target  # the next hop is resolved and checked afresh
                continue
            _check_status(resp, url)
            body = b"" if resp.status_code == 304 else _read(resp, limits, url)
            return Response(str(resp.url), resp.status_code, resp.headers, body)
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
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.iter_bytes():
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchError(_too_big(limits, "stopped reading"), url=url)
        chunks.append(chunk)
        time_left(None)  # raises past the deadline, also for data already buffered
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
