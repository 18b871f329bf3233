"""httpx's one-shot requests with a timeout a busy machine keeps (httpx's own default is 5 s)."""

from __future__ import annotations

from typing import Any

import httpx

TIMEOUT = httpx.Timeout(120.0)


def get(url: str, **options: Any) -> httpx.Response:
    return httpx.get(url, timeout=TIMEOUT, **options)


def post(url: str, **options: Any) -> httpx.Response:
    return httpx.post(url, timeout=TIMEOUT, **options)


def head(url: str, **options: Any) -> httpx.Response:
    return httpx.head(url, timeout=TIMEOUT, **options)
