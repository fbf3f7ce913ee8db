"""Who holds the key: the ``Signer`` interface, its errors and the checks of a certificate. The
signers themselves, the development key (PKCS#12) and the production signer (a hardware token or
HSM through PKCS#11), are in ``pades`` with pyHanko, imported when a process first signs.

``Signer.sign(pdf, appearance)`` is blocking (cryptography and HarfBuzz work on the CPU): callers
run it in a worker thread (``services.sign_and_file`` does). It returns the signed bytes and the
certificate that signed them.

Production (``MOTCUA_SIGNING_BACKEND=pkcs11``): the key never leaves the token. The settings name
the PKCS#11 module (``MOTCUA_SIGNING_PKCS11_MODULE``, e.g. the HSM vendor's ``.so``), the token
label (``MOTCUA_SIGNING_PKCS11_TOKEN``) and its PIN (``MOTCUA_SIGNING_PKCS11_PIN``); each tenant's
key and certificate carry the label ``motcua-<slug>`` and a unit's own ``motcua-<slug>-unit-<id>``
(the tenant's is used for a unit without one). pyHanko's ``PKCS11Signer`` (over ``python-pkcs11``)
does the signing; the issuers of the certificate found on the token travel in the signature. The
trust roots (``MOTCUA_SIGNING_TRUST_ROOTS``: PEM or DER files, the national root CA) decide which
signatures verification accepts. The development keys (``LocalKeySigner``) are refused in production.
docs/deployment.md says how to set it up and how to try it with SoftHSM2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from motcua.identity.models import N_

# Vietnam has kept UTC+7 without daylight saving since 1975: a fixed offset needs no tzdata.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")


TEST_KEY_REFUSED = N_(
    "Khóa ký thử nghiệm không được dùng trong môi trường chính thức: cần cấu hình chữ ký số thật."
)
EXPIRED = N_("Chứng thư số của đơn vị đã hết hạn: không thể ký. Đề nghị gia hạn hoặc xin cấp chứng thư mới.")


class SigningRefusedError(Exception):
    """The key may not sign now (revoked, expired, not for production); the message says why in
    Vietnamese, for the person who asked."""


@dataclass(frozen=True)
class Appearance:
    """What the visible signature shows."""

    unit_name: str
    signer_name: str
    reason: str = "Ký số văn bản"
    location: str = "Việt Nam"


@dataclass(frozen=True)
class SignedPdf:
    data: bytes
    certificate: x509.Certificate
    signed_at: datetime
    timestamped: bool


class Signer(Protocol):
    def certificate(self) -> x509.Certificate: ...

    def sign(self, pdf: bytes, appearance: Appearance) -> SignedPdf: ...


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def check_usable(cert: x509.Certificate, revoked: Sequence[int] | frozenset[int], now: datetime) -> None:
    """Refuse a key whose certificate is revoked, expired or not yet valid (a clear message for the
    leader who is signing, rather than a document nobody can rely on)."""
    if cert.serial_number in revoked:
        raise SigningRefusedError(
            N_(
                "Chứng thư số của đơn vị đã bị thu hồi: không thể ký. Đề nghị liên hệ tổ chức cung cấp "
                "dịch vụ chứng thực chữ ký số để cấp chứng thư mới."
            )
        )
    if now > cert.not_valid_after_utc:
        raise SigningRefusedError(EXPIRED)
    if now < cert.not_valid_before_utc:
        raise SigningRefusedError(N_("Chứng thư số của đơn vị chưa có hiệu lực: không thể ký."))
