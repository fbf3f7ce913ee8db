"""Secrets at rest and derived keys, all from MOTCUA_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    """A key for one purpose only, so one leaked derived key reveals nothing about the others."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"motcua", info=purpose.encode()).derive(
        secret_key.encode()
    )


class SecretBox:
    """Encrypts small secrets (OIDC client secrets, payment keys) before they reach the database."""

    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "secrets-at-rest")))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("a stored secret cannot be decrypted with this MOTCUA_SECRET_KEY") from None


def digest(value: str) -> str:
    """A one-way fingerprint (for session ids kept in Redis, login-binding cookies)."""
    return hashlib.sha256(value.encode()).hexdigest()


def sign(secret_key: str, purpose: str, value: str) -> str:
    mac = hmac.new(derive_key(secret_key, purpose), value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\s\\]*$")


def safe_next(raw: str | None) -> str:
    """Only a path on this same host (never ``//evil``, ``/\\evil`` or a full URL): where to go
    after a login or a language switch."""
    if raw and len(raw) <= 500 and _LOCAL_PATH.match(raw):
        return raw
    return "/"
