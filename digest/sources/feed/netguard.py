"""Where a fetch may connect, and until when: the address check and the wall-clock deadline.

Both live in an httpcore network backend, under httpx's connection pool: the backend resolves
the host itself, checks every address, then connects to a checked address, so the connection
is pinned to what was checked (DNS rebinding cannot swap it) while the Host header and TLS SNI
still carry the name. Each socket operation gets at most the time left until the deadline of
the request in progress, so a server that dribbles its headers is cut off like one that
dribbles its body.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_deadline: ContextVar[float | None] = ContextVar("digest_fetch_deadline", default=None)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DeadlineExceeded(Exception):
    """The request in progress ran past its deadline."""


class AddressRefused(Exception):
    """A host resolved to an address that content URLs may not reach."""

    def __init__(self, host: str, address: IPAddress, kind: str):
        super().__init__(f"{host} is {address}, a {kind} address")
        self.host = host
        self.address = address
        self.kind = kind


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Run the enclosed requests until ``time.monotonic()`` reaches ``at`` (None: no limit)."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def time_left(timeout: float | None) -> float | None:
    """``timeout`` cut to the time left before the deadline; raise once it has passed."""
    at = _deadline.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded()
    return left if timeout is None else min(timeout, left)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR strings (``"10.0.0.0/8"``, ``"::1/128"``, a bare address) as networks."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)


def non_public_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address (e.g. ``"loopback"``), or None if it is.

    IPv6 addresses that embed an IPv4 one (mapped, 6to4, Teredo, NAT64) are judged by it too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64:  # DNS64 on an IPv6-only network: judged by the IPv4 address alone
            return non_public_kind(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        embedded = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
        for inner in embedded:
            inner_kind = non_public_kind(inner) if inner is not None else None
            if inner_kind:
                return inner_kind
    for kind in ("loopback", "unspecified", "link_local", "multicast", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global:
        return "non-public"
    return None


def check_address(host: str, address: IPAddress, allow: tuple[Network, ...]) -> None:
    """Raise AddressRefused unless ``address`` is public or inside an ``allow`` network."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address.version == net.version and address in net for net in allow):
        return
    kind = non_public_kind(address)
    if kind:
        raise AddressRefused(host, address, kind)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to for a TCP connection, in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:  # gaierror: the message names the failure ("Name or service ...")
        raise httpcore.ConnectError(f"getaddrinfo: {exc}") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if address not in found:
            found.append(address)
    if not found:
        raise httpcore.ConnectError(f"No address for {host}")
    return found


class _Stream(httpcore.NetworkStream):
    """A stream whose every operation ends by the deadline of the request using it."""

    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, time_left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, time_left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: typing.Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, time_left(timeout))
        return _Stream(inner)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connects by the deadline, and, with ``allow`` set, only to public or allowed addresses.

    ``allow=None`` trusts every address (the operator's own feed URLs); a tuple, even empty,
    guards the connection (URLs that came from feed content).
    """

    def __init__(self, allow: tuple[Network, ...] | None):
        self.allow = allow
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        if self.allow is not None:
            for address in addresses:
                check_address(host, address, self.allow)
        error: Exception | None = None
        for address in addresses:  # connect to the checked address itself: no second lookup
            try:
                stream = self._plain.connect_tcp(
                    str(address), port, time_left(timeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
                continue
            return _Stream(stream)
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
