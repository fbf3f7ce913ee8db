"""A deliberately misbehaving OpenID Provider on loopback, for the failure paths a certified
provider will not produce on demand: tampered signatures, wrong audience, stale or replayed
tokens, a wrong nonce, a missing personal ID, a slow or dead server.

It is a real HTTP server (the app reaches it over TCP like any provider); ``fault`` selects
what it gets wrong. Its /authorize answers at once with a code, as if the person had consented.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import Key, KeySet, RSAKey

CLIENT_ID = "rogue-client"
CLIENT_SECRET = "rogue-secret-Zr8Qv1Lm4Nx7Pw2"
PERSON = {"sub": "rogue-sub-1", "name": "Lê Thị Thử", "personal_id": "001190012345"}


class RogueProvider:
    def __init__(self) -> None:
        self.fault: str | None = None
        self.slow_seconds = 0.0
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.rotated_key = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig", "alg": "RS256"})
        self.publish_rotated = False
        self.jwks_fetches = 0
        self.codes: dict[str, dict[str, str]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.issuer = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> RogueProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **PERSON,
        }
        key = self.key
        if self.fault == "wrong_audience":
            claims["aud"] = "some-other-client"
        elif self.fault == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        elif self.fault == "wrong_nonce":
            claims["nonce"] = "not-the-nonce-you-sent"
        elif self.fault == "wrong_issuer":
            claims["iss"] = "http://evil.example"
        elif self.fault == "no_personal_id":
            claims.pop("personal_id")
        elif self.fault == "bad_personal_id":
            claims["personal_id"] = "12345"
        elif self.fault == "rotated_key":
            key = self.rotated_key
            self.publish_rotated = True
        elif self.fault == "unknown_key":
            key = RSAKey.generate_key(2048, parameters={"kid": "k-unknown"})
        token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        if self.fault == "tampered_signature":
            header, payload, signature = token.split(".")
            body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            body["personal_id"] = "079099999999"  # someone else's identity, signature unchanged
            forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
            token = f"{header}.{forged}.{signature}"
        return token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Mapping[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if provider.slow_seconds:
                    time.sleep(provider.slow_seconds)
                if url.path == "/.well-known/openid-configuration":
                    base = provider.issuer
                    self._json(
                        200,
                        {
                            "issuer": base,
                            "authorization_endpoint": base + "/authorize",
                            "token_endpoint": base + "/token",
                            "userinfo_endpoint": base + "/userinfo",
                            "jwks_uri": base + "/jwks",
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                        },
                    )
                elif url.path == "/jwks":
                    provider.jwks_fetches += 1
                    keys: list[Key] = [provider.key]
                    if provider.publish_rotated:
                        keys.append(provider.rotated_key)
                    self._json(200, KeySet(keys).as_dict())
                elif url.path == "/authorize":
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    code = f"code-{len(provider.codes)}-{time.time_ns()}"
                    provider.codes[code] = q
                    self.send_response(302)
                    self.send_header(
                        "location", q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
                    )
                    self.end_headers()
                elif url.path == "/userinfo":
                    self._json(200, {"sub": PERSON["sub"]})
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                auth = self.headers.get("authorization", "")
                expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if auth != expected:
                    self._json(401, {"error": "invalid_client"})
                    return
                request = provider.codes.pop(form.get("code", ""), None)
                if request is None:
                    self._json(400, {"error": "invalid_grant"})
                    return
                self._json(
                    200,
                    {
                        "access_token": "at-" + str(time.time_ns()),
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": provider.id_token(request["nonce"]),
                    },
                )

        return Handler


@contextmanager
def rogue_provider() -> Iterator[RogueProvider]:
    provider = RogueProvider().start()
    try:
        yield provider
    finally:
        provider.stop()
