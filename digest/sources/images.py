"""Post pictures from untrusted content: https only, never a private host, bounded sizes.

A feed's enclosure or ``media:content``/``media:thumbnail``, or an article's ``og:image``,
becomes an ``Image`` only through ``image_of``; templates escape what it keeps.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any
from urllib.parse import urlsplit

from ..models import Image
from .netguard import non_public_kind

MAX_URL = 2000
MAX_ALT = 300
MAX_SIDE = 10_000
_NUMERIC_HOST = re.compile(r"(?i)^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]*))*$")
_LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal", ".home.arpa")


def _host_is_private(host: str) -> bool:
    """True when ``host`` is an IP literal that is not public (in any spelling), or localhost."""
    host = host.strip("[]").rstrip(".").lower()
    if not host:
        return True
    if host == "localhost" or host.endswith(_LOCAL_NAMES):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
            host.split("%")[0]
        )
    except ValueError:
        if not _NUMERIC_HOST.match(host):
            return False  # a name: its address is the reader's client's business
        try:  # 127.1, 0x7f.0.0.1, 2130706433: browsers read these as IPv4 addresses
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return True  # numeric but not an address: refuse rather than guess
    return non_public_kind(address) is not None


def safe_image_url(url: object) -> str | None:
    """``url`` if it is an https URL to a public host, without credentials; else None."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if len(url) > MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return None
    if parts.scheme.lower() != "https" or "@" in parts.netloc or _host_is_private(host):
        return None
    return url


def _side(value: object) -> int | None:
    """A width or height in pixels: a positive integer up to MAX_SIDE, else None."""
    try:
        number = int(str(value).strip().removesuffix("px"))
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_SIDE else None


def image_of(
    url: object, width: object = None, height: object = None, alt: str = ""
) -> Image | None:
    """An ``Image`` of untrusted values, or None when the URL is not a safe https one."""
    safe = safe_image_url(url)
    if safe is None:
        return None
    w, h = _side(width), _side(height)
    if w is None or h is None:
        w = h = None  # one side alone says nothing of the shape
    alt = " ".join("".join(ch for ch in alt if ch.isprintable()).split())[:MAX_ALT]
    return Image(safe, w, h, alt)


def image_json(image: Image | None) -> dict[str, Any] | None:
    """``image`` as the store keeps it (a JSON object), or None."""
    if image is None:
        return None
    return {"url": image.url, "width": image.width, "height": image.height, "alt": image.alt}


def image_from_json(value: object) -> Image | None:
    """A stored picture, checked again: the row may predate a stricter check."""
    if not isinstance(value, dict):
        return None
    alt = value.get("alt")
    return image_of(value.get("url"), value.get("width"), value.get("height"), str(alt or ""))


COLUMN = 552
"""Width in pixels of the email's content column (600 less the sections' padding)."""
DEFAULT_RATIO = (16, 9)
"""The shape given to a picture whose size the source did not say (cropped to it)."""


def display_size(image: Image, column: int = COLUMN) -> tuple[int, int]:
    """(width, height) to show ``image`` at: never wider than ``column``, shape kept."""
    if image.width and image.height:
        width = min(column, image.width)
        return width, max(1, round(image.height * width / image.width))
    w, h = DEFAULT_RATIO
    return column, round(column * h / w)
