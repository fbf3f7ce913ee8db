"""What a request must look like before anything reads it.

Refused here with a 400 page (and nothing changed): a ``Host`` that is not a plain host name
with an optional port (userinfo, a port that is not a number or above 65535 — such a value
would otherwise reach redirect URIs and URL building), and a NUL character in the path, the
query string or a form or JSON body (PostgreSQL cannot store it: it would fail deep inside a
transaction). Form and JSON bodies are read here only up to the app's body limit; anything
larger is refused with 413, as Litestar would. Systems calling the API (``/api/``, ``/oauth/``)
get the refusal as RFC 9457 ``application/problem+json``, as every other API error.

The client address is decided here too: the peer's, unless the peer is one of the trusted
proxies (MOTCUA_TRUSTED_PROXIES), whose ``X-Forwarded-For`` then names it (the nearest address
that is not itself a trusted proxy). Nobody else can choose the address that rate limits and
audit rows see; the ASGI server is run without its own proxy-header handling.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

_LABEL = r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]+\])(?::([0-9]{{1,5}}))?$", re.IGNORECASE)
# Bodies whose text this guard reads: percent-encoded forms and JSON. Multipart bodies carry
# files, where a NUL byte is legitimate; their text fields are checked where they are parsed.
_READ = {b"application/x-www-form-urlencoded": (b"%00",), b"application/json": (b"\\u0000",)}


def valid_host(raw: str) -> bool:
    known = _checked_hosts.get(raw)
    if known is None:
        known = _check_host(raw)
        if len(_checked_hosts) < 4096:  # real hosts are few; random ones are not kept
            _checked_hosts[raw] = known
    return known


_checked_hosts: dict[str, bool] = {}


def _check_host(raw: str) -> bool:
    match = _HOST.match(raw)
    if match is None or len(raw) > 260:
        return False
    port = match.group(1)
    return port is None or 0 < int(port) <= 65535


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


Render = Callable[[int], str]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _within(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str | None, networks: Sequence[Network]) -> str:
    """The client address: ``peer`` unless a trusted proxy forwarded the request."""
    if not forwarded_for or not _within(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):  # nearest first: each trusted proxy appended its own peer
        if not _within(hop, networks):
            return (
                hop
                if _within(hop, [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")])
                else peer
            )
    return hops[0] if hops else peer


def request_guard(
    render: Render,
    *,
    body_limit: int,
    trusted_proxies: Sequence[str] = (),
    api_paths: tuple[str, ...] = (),
    render_problem: Render | None = None,
) -> Callable[[ASGIApp], ASGIApp]:
    """ASGI middleware factory; ``render(status)`` gives the page for a refused request, and
    ``render_problem(status)`` the problem document for one under ``api_paths``."""
    networks = [ipaddress.ip_network(n, strict=False) for n in trusted_proxies]

    def wrap(app: ASGIApp) -> ASGIApp:
        async def refuse(send: Send, status: int, path: str) -> None:
            if render_problem is not None and path.startswith(api_paths):
                payload, content_type = render_problem(status).encode(), b"application/problem+json"
            else:
                payload, content_type = render(status).encode(), b"text/html; charset=utf-8"
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", content_type),
                        (b"content-length", str(len(payload)).encode()),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": payload, "more_body": False})

        async def guard(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            peer = scope.get("client")
            if networks and peer:
                forwarded = _header(scope, b"x-forwarded-for")
                client = forwarded_client(
                    peer[0], forwarded.decode("latin-1") if forwarded else None, networks
                )
                if client != peer[0]:
                    scope["client"] = (client, 0)
            host = _header(scope, b"host")
            # No Host at all is left to the tenant middleware (its "no such portal" page).
            if host and not valid_host(host.decode("latin-1")):
                await refuse(send, 400, scope["path"])
                return
            query = bytes(scope.get("query_string", b""))
            if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query:
                await refuse(send, 400, scope["path"])
                return
            content_type = (_header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
            forbidden = _READ.get(content_type)
            if forbidden is None:
                await app(scope, receive, send)
                return
            # Read the (small) body once, check it, then hand the same bytes on.
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    await app(scope, receive, send)  # a disconnect: let the app see it
                    return
                chunk = bytes(message.get("body", b""))
                size += len(chunk)
                if size > body_limit:
                    await refuse(send, 413, scope["path"])
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            lowered = body.lower()
            if b"\x00" in body or any(token in lowered for token in forbidden):
                await refuse(send, 400, scope["path"])
                return
            replayed = False

            async def replay() -> ReceiveMessage:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    whole: HTTPRequestEvent = {"type": "http.request", "body": body, "more_body": False}
                    return whole
                return await receive()

            await app(scope, replay, send)

        return guard

    return wrap
