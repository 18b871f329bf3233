"""Who may use the editors' desk: loopback only, or a login with the token from the environment.

Without ``$DIGEST_DESK_TOKEN`` (``[desk] token_env``) the desk answers only requests made on
the machine itself (loopback client, a Host header of 127.0.0.1, localhost or [::1], no proxy
headers), and it refuses to be created for any other bind address. With the token set (strong:
see ``digest.strength``), every editor logs in with their name and the token; failed logins are
throttled (``throttle``). Sessions live in an HMAC-signed cookie; every POST must carry the
session's CSRF token (a form field or the ``X-CSRF-Token`` header) and a same-origin Origin.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...config import Settings
from ...errors import ConfigError
from ...strength import require_strong
from ..context import TooLarge, read_form

COOKIE = "digest_desk"
SESSION_SECONDS = 12 * 3600
OPEN_PATHS = ("/login", "/assets/")
"""Paths that answer before login (the token mode's login page and its stylesheet)."""
HEADERS = {
    b"content-security-policy": (
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'"
    ),
    b"x-frame-options": b"DENY",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"cache-control": b"no-store",
}
Clock = Callable[[], datetime]
LOOPBACK_HOST = re.compile(r"(localhost|127(?:\.[0-9]{1,3}){3}|\[::1\])(?::[0-9]{1,5})?")
"""A Host header naming this machine; a name such as ``x.localhost`` or a public one is not."""
LOCAL_ONLY = (
    "The desk answers on this machine only (http://127.0.0.1, http://localhost or http://[::1]); "
    "to reach it through a proxy or another name, set ${variable} so that editors log in."
)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) names this machine only."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "editor"


@dataclass(frozen=True)
class DeskAccess:
    """How the desk lets editors in: the token (None on loopback-only) and the cookie key."""

    host: str
    token: str | None
    secret: bytes
    local_user: str
    token_env: str = "DIGEST_DESK_TOKEN"

    @property
    def login_required(self) -> bool:
        return self.token is not None


def desk_access(
    settings: Settings, host: str, environ: Mapping[str, str] | None = None
) -> DeskAccess:
    """The access rule for a desk bound to ``host``; ConfigError if it would be open publicly."""
    env = os.environ if environ is None else environ
    name = settings.desk.token_env
    token = env.get(name) or None
    if token is not None:
        require_strong(token, name, "the editors' desk login")
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the editors' desk open on {host}",
            subject=f"{settings.path}: web.host",
            hint=f"bind 127.0.0.1, or set ${name} so that editors must log in",
        )
    return DeskAccess(host, token, secrets.token_bytes(32), _local_user(), name)


@dataclass(frozen=True)
class Session:
    """A desk session: a random nonce (CSRF is derived from it) and the editor, once known."""

    nonce: str
    actor: str | None
    issued: int


def new_session(actor: str | None, now: datetime) -> Session:
    return Session(secrets.token_urlsafe(18), actor, int(now.timestamp()))


def _sign(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()


def encode(access: DeskAccess, session: Session) -> str:
    data = {"n": session.nonce, "a": session.actor, "t": session.issued}
    payload = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{payload}.{_sign(access.secret, payload.encode())}"


def decode(access: DeskAccess, value: str, now: datetime) -> Session | None:
    """The session in a cookie value; None if forged, malformed or expired."""
    payload, _, mac = value.partition(".")
    if not hmac.compare_digest(mac, _sign(access.secret, payload.encode())):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        session = Session(str(data["n"]), data["a"], int(data["t"]))
    except (ValueError, KeyError, TypeError):
        return None
    if not 0 <= now.timestamp() - session.issued <= SESSION_SECONDS:
        return None
    return session


def csrf_token(access: DeskAccess, session: Session) -> str:
    return _sign(access.secret, f"csrf:{session.nonce}".encode())


def _cookie(access: DeskAccess, session: Session | None, scope: Scope) -> bytes:
    path = scope.get("root_path") or "/"
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    if session is None:
        return f"{COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict{secure}".encode()
    value = encode(access, session)
    return (
        f"{COOKIE}={value}; Path={path}; Max-Age={SESSION_SECONDS}; HttpOnly; "
        f"SameSite=Strict{secure}"
    ).encode()


def loopback_host(value: str) -> bool:
    """Whether a Host header is 127.x.x.x, ``localhost`` or ``[::1]``, with an optional port."""
    found = LOOPBACK_HOST.fullmatch(value.lower())
    return found is not None and is_loopback(found.group(1))


def _local_request(scope: Scope, headers: Headers) -> bool:
    """Made on this machine: loopback peer and Host, and not relayed by a proxy."""
    client = scope.get("client") or ("", 0)
    hosts = headers.getlist("host")
    if "forwarded" in headers or "x-forwarded-for" in headers or len(hosts) != 1:
        return False
    return is_loopback(str(client[0])) and loopback_host(hosts[0])


class DeskGuard:
    """ASGI middleware: lets in editors only, keeps their session cookie, adds safe headers."""

    def __init__(self, app: ASGIApp, access: DeskAccess, clock: Clock):
        self.app = app
        self.access = access
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        root = scope.get("root_path", "")
        path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
        if not self.access.login_required and not _local_request(scope, headers):
            refusal = LOCAL_ONLY.format(variable=self.access.token_env)
            await _secured(PlainTextResponse(refusal, 403))(scope, receive, send)
            return
        cookies = SimpleCookie(headers.get("cookie", ""))
        morsel = cookies.get(COOKIE)
        now = self.clock()
        session = decode(self.access, morsel.value, now) if morsel else None
        fresh = session is None
        if session is None:
            actor = None if self.access.login_required else self.access.local_user
            session = new_session(actor, now)
        state = scope.setdefault("state", {})
        state["desk_session"] = session
        state["desk_session_changed"] = fresh
        if session.actor is None and not path.startswith(OPEN_PATHS):
            if scope["method"] in ("GET", "HEAD"):
                answer: Response = RedirectResponse(f"{root}/login", 303)
            else:
                answer = PlainTextResponse("Log in to the desk first.", 401)
            await self._answer(answer, scope, receive, send)
            return
        await self._answer(self.app, scope, receive, send)

    async def _answer(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope["state"]
                extra = []
                if state.get("desk_session_changed"):
                    extra.append(
                        (b"set-cookie", _cookie(self.access, state["desk_session"], scope))
                    )
                message["headers"] = _add_headers([*message.get("headers", []), *extra])
            await send(message)

        await app(scope, receive, with_headers)


def _add_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {k.lower() for k, _ in raw}
    return [*raw, *((k, v) for k, v in HEADERS.items() if k not in names)]


def _secured(response: Response) -> Response:
    response.raw_headers = _add_headers(response.raw_headers)
    return response


def session_of(request: Request) -> Session:
    session: Session = request.state.desk_session
    return session


def actor_of(request: Request) -> str:
    return session_of(request).actor or "anonymous"


def set_session(request: Request, session: Session | None) -> None:
    """Replace the request's session (login, logout); the guard sends the new cookie."""
    request.state.desk_session = session
    request.state.desk_session_changed = True


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


async def checked_form(request: Request, access: DeskAccess) -> dict[str, list[str]]:
    """The POSTed form, after checking its CSRF token and origin (HTTPException 403 if not)."""
    try:
        form = await read_form(request)
    except TooLarge:
        raise HTTPException(413, "The request is too large.") from None
    given = request.headers.get("x-csrf-token") or (form.get("csrf") or [""])[0]
    expected = csrf_token(access, session_of(request))
    if not _same_origin(request) or not hmac.compare_digest(given, expected):
        raise HTTPException(403, "The form has expired or came from elsewhere; reload the page.")
    return form


def token_matches(access: DeskAccess, given: str) -> bool:
    """Whether ``given`` is the token, in time that depends on neither its content nor length."""
    if access.token is None:
        return False
    mine = hashlib.sha256(access.token.encode()).digest()
    return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "replace")).digest(), mine)
