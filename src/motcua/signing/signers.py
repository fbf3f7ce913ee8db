"""Who holds the key: the ``Signer`` interface, the development key (PKCS#12) and the production
signer (a hardware token or HSM through PKCS#11).

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

import contextlib
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pkcs11
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, ObjectClass
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp import TextStampStyle

from motcua.core.pdf_fonts import STAMP
from motcua.identity.models import N_
from motcua.signing.certificates import IssuedKey

FIELD_NAME = "ChuKySo"
# Bottom right of the last page, inside the 15 mm margin the documents keep (points, from bottom left).
STAMP_BOX = (300, 6, 575, 44)
# The stamp's words: fixed Vietnamese, as on the paper (the document is in the authority's language).
STAMP_TEXT = "Ký số bởi: %(signer_name)s\nĐơn vị: %(unit)s\nThời gian ký: %(time)s"
# Vietnam has kept UTC+7 without daylight saving since 1975: a fixed offset needs no tzdata.
VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")


TEST_KEY_REFUSED = N_(
    "Khóa ký thử nghiệm không được dùng trong môi trường chính thức: cần cấu hình chữ ký số thật."
)
EXPIRED = N_("Chứng thư số của đơn vị đã hết hạn: không thể ký. Đề nghị gia hạn hoặc xin cấp chứng thư mới.")


# Bytes kept for the signature container of a development key (it needs about 1.5 KB, 5 KB with
# a timestamp); an HSM's chain to the national root is measured by pyHanko instead.
LOCAL_RESERVED = 8192
LOCAL_RESERVED_TSA = 16384


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


@cache
def stamp_font() -> GlyphAccumulatorFactory:
    """DejaVu Sans cut for the stamp (core.pdf_fonts): pyHanko reads and subsets the font for
    every signature, and the cut copy has ~900 glyphs where DejaVu has ~6,000."""
    return GlyphAccumulatorFactory(str(STAMP.path))


def sign_with(
    signer: signers.Signer,
    pdf: bytes,
    appearance: Appearance,
    *,
    timestamper: TimeStamper | None = None,
    bytes_reserved: int | None = None,
) -> tuple[bytes, datetime]:
    """PAdES B-B (B-T with a timestamper) with a visible stamp on the last page."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    pages = int(writer.root["/Pages"]["/Count"])
    meta = PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=appearance.reason,
        location=appearance.location,
        name=appearance.signer_name,
    )
    style = TextStampStyle(
        stamp_text=STAMP_TEXT,
        text_box_style=TextBoxStyle(font=stamp_font(), font_size=7),
        border_width=1,
    )
    pdf_signer = PdfSigner(
        meta,
        signer=signer,
        timestamper=timestamper,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec(FIELD_NAME, on_page=pages - 1, box=STAMP_BOX),
    )
    signed_at = datetime.now(UTC)
    out = pdf_signer.sign_pdf(
        writer,
        bytes_reserved=bytes_reserved,
        appearance_text_params={
            "signer_name": appearance.signer_name,
            "unit": appearance.unit_name,
            "time": f"{signed_at.astimezone(VIETNAM_TZ):%H:%M:%S %d/%m/%Y} (GMT+7)",
        },
    )
    return out.getvalue(), signed_at


class LocalKeySigner:
    """A key in a PKCS#12 file: development and tests only."""

    def __init__(
        self, key: IssuedKey, *, timestamper: TimeStamper | None = None, production: bool = False
    ) -> None:
        if production:
            raise SigningRefusedError(TEST_KEY_REFUSED)
        self.key = key
        self.timestamper = timestamper
        self._signer = signers.SimpleSigner.load_pkcs12_data(
            key.pkcs12, other_certs=[to_asn1(c) for c in key.chain], passphrase=key.passphrase
        )

    def certificate(self) -> x509.Certificate:
        return self.key.certificate

    def sign(self, pdf: bytes, appearance: Appearance) -> SignedPdf:
        # The development chain is two small EC certificates (and a timestamp token with the TSA's
        # RSA certificate): room given up front spares pyHanko a trial signature to measure it.
        reserved = LOCAL_RESERVED_TSA if self.timestamper is not None else LOCAL_RESERVED
        data, signed_at = sign_with(
            self._signer, pdf, appearance, timestamper=self.timestamper, bytes_reserved=reserved
        )
        return SignedPdf(data, self.key.certificate, signed_at, self.timestamper is not None)


# -- PKCS#11: a hardware token or HSM --------------------------------------------------------------
#
# Concurrency. python-pkcs11 initialises a module with ``C_Initialize(NULL)``, which PKCS#11 (v2.40
# §5.4) reads as the application's promise never to call the module from two threads at once, and
# SoftHSM then turns its own locking off; a session also holds one operation at a time. So every call
# that reaches the token (logging in, finding the key, ``C_Sign``) is made under one lock per module,
# and a process keeps one logged-in session per token, shared by the keys on it (a PKCS#11 login
# belongs to the application, not the session: a second ``C_Login`` is refused as "already logged
# in"). The lock covers only the token's part of a signature, a few milliseconds of an ECDSA or RSA
# operation; the PDF work around it (hashing, the stamp, the CMS) runs in the signing threads in
# parallel.

TOKEN_MODULE_MISSING = N_(
    "Không nạp được thư viện của thiết bị ký số (PKCS#11): không thể ký. "
    "Đề nghị quản trị viên kiểm tra cấu hình chữ ký số."
)
TOKEN_NOT_FOUND = N_(
    "Không tìm thấy thiết bị ký số đã cấu hình: không thể ký. "
    "Đề nghị quản trị viên kiểm tra thiết bị đã được kết nối và cấu hình đúng."
)
TOKEN_PIN_REFUSED = N_(
    "Thiết bị ký số từ chối mã PIN đã cấu hình (sai, bị khóa hoặc hết hạn): không thể ký. "
    "Đề nghị quản trị viên kiểm tra mã PIN."
)
TOKEN_KEY_MISSING = N_(
    "Thiết bị ký số chưa có khóa ký và chứng thư số của đơn vị: không thể ký. "
    "Đề nghị quản trị viên nạp khóa ký cho đơn vị."
)
TOKEN_FAILED = N_("Thiết bị ký số không thực hiện được việc ký: vui lòng thử lại sau ít phút.")

log = logging.getLogger(__name__)
# The hash-then-sign mechanism each key type needs for a SHA-256 signature; a token without it
# (SoftHSM has only raw ECDSA) signs the digest pyHanko computes: the key still stays on the token.
_HASHING_MECHANISM = {"ec": "ECDSA_SHA256", "rsa": "SHA256_RSA_PKCS"}
_MAX_CHAIN = 8


class _Token:
    """One token of one module, as this process holds it: the module's lock and a logged-in session."""

    _registry: ClassVar[dict[tuple[str, str], _Token]] = {}
    _module_locks: ClassVar[dict[str, threading.Lock]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, module: str, label: str, lock: threading.Lock) -> None:
        self.module, self.label, self.lock = module, label, lock
        self.session: pkcs11.Session | None = None
        # Bumped when the session is dropped: signers built on the old one load their key again.
        self.generation = 0
        # The digest of a PIN the token refused: not offered again by this process, because tokens
        # lock the PIN after a few failures and every signature would be one more.
        self.refused_pin: str | None = None
        self.pin_digest: str | None = None  # of the PIN the session logged in with

    @classmethod
    def of(cls, module: str, label: str) -> _Token:
        with cls._registry_lock:
            token = cls._registry.get((module, label))
            if token is None:
                lock = cls._module_locks.setdefault(module, threading.Lock())
                token = cls._registry[(module, label)] = _Token(module, label, lock)
            return token

    def open(self, pin: str) -> pkcs11.Session:
        """The logged-in session (opened on first use). Call with ``self.lock`` held."""
        digest = hashlib.sha256(pin.encode()).hexdigest()
        if self.session is not None:
            # Logged in already (a login is the process's): a different PIN must not ride on it.
            if digest != self.pin_digest:
                raise SigningRefusedError(TOKEN_PIN_REFUSED)
            return self.session
        if not pin or digest == self.refused_pin:
            raise SigningRefusedError(TOKEN_PIN_REFUSED)
        if not Path(self.module).is_file():
            log.error("PKCS#11 module %s: no such file", self.module)
            raise SigningRefusedError(TOKEN_MODULE_MISSING)
        try:
            lib = pkcs11.lib(self.module)
        except pkcs11.PKCS11Error as exc:
            log.error("PKCS#11 module %s cannot be loaded: %s", self.module, exc)
            raise SigningRefusedError(TOKEN_MODULE_MISSING) from exc
        if not self.label:  # an unset label would match an uninitialised slot's empty one
            raise SigningRefusedError(TOKEN_NOT_FOUND)
        try:
            token = lib.get_token(token_label=self.label)
        except pkcs11.PKCS11Error as exc:  # none, or more than one with this label
            log.error("PKCS#11 token %r in %s: %r", self.label, self.module, exc)
            raise SigningRefusedError(TOKEN_NOT_FOUND) from exc
        try:
            self.session = token.open(user_pin=pin)
            self.pin_digest = digest
        except (
            pkcs11.exceptions.PinIncorrect,
            pkcs11.exceptions.PinInvalid,
            pkcs11.exceptions.PinLenRange,
            pkcs11.exceptions.PinLocked,
            pkcs11.exceptions.PinExpired,
        ) as exc:
            self.refused_pin = digest
            log.error("PKCS#11 token %r refused the PIN: %r", self.label, exc)
            raise SigningRefusedError(TOKEN_PIN_REFUSED) from exc
        except pkcs11.PKCS11Error as exc:
            log.error("PKCS#11 token %r: cannot open a session: %r", self.label, exc)
            raise SigningRefusedError(TOKEN_FAILED) from exc
        return self.session

    def drop(self) -> None:
        """Forget a session the token no longer honours (removed, restarted). Call with the lock held."""
        session, self.session = self.session, None
        self.generation += 1
        if session is not None:
            with contextlib.suppress(pkcs11.PKCS11Error):
                session.close()


class _TokenSigner(PKCS11Signer):
    """pyHanko's PKCS#11 signer, with the token's operation under the module's lock."""

    def __init__(self, session: pkcs11.Session, label: str, lock: threading.Lock, **kwargs: Any) -> None:
        super().__init__(session, key_label=label, cert_label=label, **kwargs)
        self._token_lock = lock

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:  # a placeholder of the right size: the token is not asked
            return await super().async_sign_raw(data, digest_algorithm, dry_run=True)
        # The event loop here is pyHanko's own, private to this signing thread (``sign_pdf`` runs
        # one per call): blocking it on the lock holds up no one else's request.
        with self._token_lock:
            return await super().async_sign_raw(data, digest_algorithm)


class Pkcs11Signer:
    """A key on a hardware token or HSM (production), found by its label (a unit's, else the
    tenant's). The private key never leaves the token: what goes in is the data to sign (the
    signature's attributes, or their digest), what comes out is the signature."""

    def __init__(
        self,
        module: str,
        token_label: str,
        pin: str,
        key_label: str,
        *,
        fallback_label: str | None = None,
        timestamper: TimeStamper | None = None,
    ) -> None:
        self.module, self.token_label, self.pin = module, token_label, pin
        self.labels = tuple(dict.fromkeys(x for x in (key_label, fallback_label) if x))
        self.timestamper = timestamper
        self._token = _Token.of(module, token_label)
        self._signer: _TokenSigner | None = None
        self._generation = -1
        self._certificate: x509.Certificate | None = None
        self._reserved: int | None = None

    def _open(self) -> _TokenSigner:
        token = self._token
        with token.lock:
            if self._signer is None or self._generation != token.generation:
                session = token.open(self.pin)
                try:
                    self._signer = self._find_key(session, token.lock)
                except pkcs11.PKCS11Error as exc:
                    log.error("PKCS#11 token %r: %r", self.token_label, exc)
                    token.drop()
                    raise SigningRefusedError(TOKEN_FAILED) from exc
                self._generation = token.generation
                self._certificate = x509.load_der_x509_certificate(self._signer.signing_cert.dump())
                # Room for the container given up front spares pyHanko a trial signature to measure
                # it: the certificates it carries, and 4-5 KB for the signature (512 bytes at most,
                # RSA-4096) and the signed attributes; pyHanko wants an even number. With a timestamp,
                # whose size is the authority's, pyHanko measures.
                carried = sum(len(c.dump()) for c in self._signer.cert_registry)
                self._reserved = None if self.timestamper else (carried // 1024 + 5) * 1024
            return self._signer

    def _find_key(self, session: pkcs11.Session, lock: threading.Lock) -> _TokenSigner:
        for label in self.labels:
            # Looked up here rather than left to pyHanko, to tell "no key" from a failing token.
            keys = list(
                session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label})
            )
            certs = list(
                session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label})
            )
            if len(keys) != 1 or len(certs) != 1:
                continue
            leaf = asn1_x509.Certificate.load(certs[0][Attribute.VALUE])
            mechanism = _HASHING_MECHANISM.get(leaf.public_key.algorithm)
            supported = {m.name for m in session.token.slot.get_mechanisms()}
            signer = _TokenSigner(
                session,
                label,
                lock,
                signing_cert=leaf,
                ca_chain=_chain_of(leaf, session),
                use_raw_mechanism=mechanism is not None and mechanism not in supported,
            )
            signer.signing_cert  # noqa: B018  # finds the key handle now, under the lock
            return signer
        log.error(
            "PKCS#11 token %r has no single key and certificate labelled %s", self.token_label, self.labels
        )
        raise SigningRefusedError(TOKEN_KEY_MISSING)

    def certificate(self) -> x509.Certificate:
        self._open()
        assert self._certificate is not None
        return self._certificate

    def sign(self, pdf: bytes, appearance: Appearance) -> SignedPdf:
        # A token that was removed or restarted no longer knows the session: opened again once,
        # the signature goes through (nothing is filed before it does).
        for attempt in (1, 2):
            signer = self._open()
            try:
                data, signed_at = sign_with(
                    signer, pdf, appearance, timestamper=self.timestamper, bytes_reserved=self._reserved
                )
                break
            except pkcs11.PKCS11Error as exc:
                log.warning("PKCS#11 signature on token %r failed: %r", self.token_label, exc)
                with self._token.lock:
                    if self._generation == self._token.generation:
                        self._token.drop()
                if attempt == 2:
                    raise SigningRefusedError(TOKEN_FAILED) from exc
        return SignedPdf(data, self.certificate(), signed_at, self.timestamper is not None)


def _chain_of(leaf: asn1_x509.Certificate, session: pkcs11.Session) -> list[asn1_x509.Certificate]:
    """The issuers of ``leaf`` among the token's certificates (the provider's intermediate CAs), for
    the signature to carry: a verifier then needs only the root. Other keys' certificates stay out."""
    found = [
        asn1_x509.Certificate.load(obj[Attribute.VALUE])
        for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
    ]
    by_subject = {c.subject.dump(): c for c in found}
    chain: list[asn1_x509.Certificate] = []
    cert = leaf
    while len(chain) < _MAX_CHAIN and cert.issuer.dump() != cert.subject.dump():
        issuer = by_subject.get(cert.issuer.dump())
        if issuer is None:
            break
        chain.append(issuer)
        cert = issuer
    return chain


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
