"""Access tokens for systems: short-lived JWTs (HS256) signed with a key of their tenant only.

A token names its tenant three times over — the signing key is derived per tenant, and ``iss``,
``aud`` and ``tenant`` must match the host's tenant — so a token issued by one portal is
refused by every other one. It also carries a mark of the client's secret at issue time
(``sec``): rotating the secret changes the mark, which ends every earlier token at once
without a list of revoked tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from motcua.core.security import derive_key

LIFETIME_SECONDS = 600
ALGORITHM = "HS256"


def issuer(slug: str) -> str:
    return f"urn:motcua:tenant:{slug}"


def audience(slug: str) -> str:
    return f"urn:motcua:tenant:{slug}:api"


def _key(secret_key: str, slug: str) -> OctKey:
    return OctKey.import_key(derive_key(secret_key, f"api-token:{slug}"))


def secret_mark(secret_hash: str) -> str:
    """A fingerprint of the stored secret hash: changes whenever the secret is rotated."""
    return hashlib.sha256(f"token-mark:{secret_hash}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TokenClaims:
    client_id: str
    scopes: frozenset[str]
    mark: str
    jti: str
    expires_at: int


def issue(secret_key: str, slug: str, *, client_id: str, secret_hash: str, scopes: list[str]) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer(slug),
        "aud": audience(slug),
        "sub": client_id,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
        "jti": secrets.token_urlsafe(16),
        "tenant": slug,
        "sec": secret_mark(secret_hash),
    }
    return jwt.encode({"alg": ALGORITHM}, claims, _key(secret_key, slug), algorithms=[ALGORITHM])


def verify(secret_key: str, slug: str, token: str) -> TokenClaims | None:
    """The claims of a valid, unexpired token of this tenant; None for anything else."""
    if len(token) > 4096:
        return None
    try:
        decoded = jwt.decode(token, _key(secret_key, slug), algorithms=[ALGORITHM])
        jwt.JWTClaimsRegistry(
            leeway=5,
            iss={"essential": True, "value": issuer(slug)},
            aud={"essential": True, "value": audience(slug)},
            tenant={"essential": True, "value": slug},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
            sec={"essential": True},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError):
        return None
    claims = decoded.claims
    scope, sub, mark = claims.get("scope", ""), claims["sub"], claims["sec"]
    if not isinstance(scope, str) or not isinstance(sub, str) or not isinstance(mark, str):
        return None
    return TokenClaims(
        client_id=sub,
        scopes=frozenset(scope.split()),
        mark=mark,
        jti=str(claims["jti"]),
        expires_at=int(claims["exp"]),
    )
