"""``/healthz`` and ``/metrics`` of ``digest serve``, for load balancers and Prometheus.

``/metrics`` shares its port with the public links, so it answers loopback clients only
(requests on this machine, no proxy headers), unless ``$DIGEST_METRICS_TOKEN`` (``[web]
metrics_token_env``) is set: then it answers any client bearing that token and nobody else.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable

import anyio
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from ..config import Settings
from ..ops.health import check
from ..ops.metrics import serve_registry
from ..store import Store
from ..strength import require_strong
from .desk.auth import is_loopback

Endpoint = Callable[[Request], Awaitable[Response]]
HEALTH_TIMEOUT = 10.0
"""Seconds ``/healthz`` waits for the store and the broker before answering 503."""
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def healthz(settings: Settings, store: Store) -> Endpoint:
    """200 with each part's state when the store answers at the schema head, else 503."""

    async def endpoint(request: Request) -> Response:
        with anyio.move_on_after(HEALTH_TIMEOUT):
            health = await anyio.to_thread.run_sync(check, store, settings, abandon_on_cancel=True)
            return JSONResponse(health.as_json(), status_code=200 if health.ok else 503)
        reason = f"the store or the broker did not answer within {HEALTH_TIMEOUT:g} s"
        return JSONResponse({"ok": False, "reasons": [reason]}, status_code=503)

    return endpoint


def metrics_token(settings: Settings) -> str | None:
    """The scrape token from the environment, checked strong; None when unset."""
    name = settings.web.metrics_token_env
    token = os.environ.get(name) or None
    if token is not None:
        require_strong(token, name, "the /metrics bearer token")
    return token


def allowed(request: Request, token: str | None) -> bool:
    """Whether this request may read ``/metrics`` (see the module's docstring)."""
    if token is not None:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    client = request.client.host if request.client else ""
    proxied = any(h in request.headers for h in PROXY_HEADERS)
    return is_loopback(client) and not proxied


def metrics(settings: Settings, store: Store) -> Endpoint:
    """Prometheus text format: the store's figures and the queue, read at each scrape."""
    registry = serve_registry(store.standing, settings)
    token = metrics_token(settings)
    name = settings.web.metrics_token_env

    async def endpoint(request: Request) -> Response:
        if not allowed(request, token):
            why = "a valid bearer token" if token else f"a loopback client (or ${name} set)"
            return PlainTextResponse(f"/metrics needs {why}\n", status_code=403)
        body = await anyio.to_thread.run_sync(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return endpoint
