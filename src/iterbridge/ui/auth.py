"""Who may use the console: the person who ran `iterbridge ui`, as a notebook server guards itself.

- The printed URL carries a random token (`secrets.token_urlsafe`). Visiting it sets a cookie holding the
  token (HttpOnly: no script reads it; SameSite=Strict: no other site's page sends it) and redirects to the
  same page without the token, so it leaves the address bar and the history.
- Every request (pages, assets, API) must carry that cookie; a missing or wrong one is answered 403.
- A request that changes anything (every method but GET/HEAD) must also carry the CSRF token in the
  `X-Iterbridge-Csrf` header, a value derived from the session token that only the console's own page is
  given, and an Origin, when the browser sends one, of the console itself.
- The Host header must name the console's loopback address (a DNS-rebinding page would send its own name).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

COOKIE = "iterbridge_ui"  # a prefix: each console's cookie is named after its token (cookies ignore ports)
CSRF_HEADER = "x-iterbridge-csrf"
SAFE_METHODS = ("GET", "HEAD")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class Guard:
    """The console's secrets: the session token (URL, cookie) and the CSRF token derived from it."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        self.csrf = hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()
        # Two consoles on this machine (other ports) must not overwrite each other's cookie.
        self.cookie_name = f"{COOKIE}_{hashlib.sha256(self.token.encode()).hexdigest()[:12]}"

    def cookie(self) -> str:
        return f"{self.cookie_name}={self.token}; HttpOnly; SameSite=Strict; Path=/"

    def token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}


def _cookie_token(headers: dict[str, str], name: str) -> str | None:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no token
        return None
    morsel = cookies.get(name)
    return morsel.value if morsel is not None else None


class GuardMiddleware:
    """The ASGI middleware enforcing the module's rules in front of every route."""

    def __init__(self, app: Asgi, guard: Guard, hosts: Callable[[], set[str]]) -> None:
        self.app = app
        self.guard = guard
        self.hosts = hosts  # the Host values the console answers to (known once the port is bound)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # the console has none: refused before any route sees it
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if headers.get("host", "") not in self.hosts():
            await _refuse(send, 403, "this console answers only to its loopback address")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.get("token", [None])[-1]
        if scope["method"] == "GET" and scope["path"] == "/" and given is not None:
            if not self.guard.token_ok(given):
                await _refuse(send, 403, "wrong token: open the URL `iterbridge ui` printed")
                return
            await _redirect_with_cookie(send, self.guard.cookie())  # the token leaves the address bar
            return
        if not self.guard.token_ok(_cookie_token(headers, self.guard.cookie_name)):
            await _refuse(send, 403, "no session: open the URL `iterbridge ui` printed (it carries the token)")
            return
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin not in {f"http://{host}" for host in self.hosts()}:
                await _refuse(send, 403, "a request from another site is refused")
                return
            if not self.guard.csrf_ok(headers.get(CSRF_HEADER)):
                await _refuse(send, 403, "missing or wrong CSRF token: reload the console")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = ('{"error": "' + message.replace('"', "'") + '"}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect_with_cookie(send: Send, cookie: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", b"/"), (b"set-cookie", cookie.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
