"""Signing itself, with pyHanko: the PAdES signature and its visible stamp (``sign_with``), the
development key (``LocalKeySigner``, PKCS#12) and the production signer on a hardware token or
HSM (``Pkcs11Signer``, PKCS#11). ``signers`` holds the interface, the errors and the checks that
need none of this.

A module of its own because pyHanko, fontTools and HarfBuzz take about half a second to import:
``services`` imports it when a process first signs, so a process that has not signed yet (a
worker, the scheduler, the command line) does not pay for it at start; the web process loads it
while it waits at its start gate (``services.load_signing_libraries``). It also draws the
verification QR code on a result the leader uploads (``stamp_verification_qr``).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, ClassVar

import pkcs11
import segno
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pkcs11 import Attribute, ObjectClass
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp import TextStamp, TextStampStyle

from motcua.core.pdf_fonts import STAMP
from motcua.identity.models import N_
from motcua.signing.certificates import IssuedKey
from motcua.signing.signers import (
    TEST_KEY_REFUSED,
    VIETNAM_TZ,
    Appearance,
    SignedPdf,
    SigningRefusedError,
    to_asn1,
)

FIELD_NAME = "ChuKySo"
# Bottom right of the last page, inside the 15 mm margin the documents keep (points, from bottom left).
STAMP_BOX = (300, 6, 575, 44)
# The stamp's words: fixed Vietnamese, as on the paper (the document is in the authority's language).
STAMP_TEXT = "Ký số bởi: %(signer_name)s\nĐơn vị: %(unit)s\nThời gian ký: %(time)s"

# Bytes kept for the signature container of a development key (it needs about 1.5 KB, 5 KB with
# a timestamp); an HSM's chain to the national root is measured by pyHanko instead.
LOCAL_RESERVED = 8192
LOCAL_RESERVED_TSA = 16384


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


# The verification QR code printed on a result: bottom left of its last page, beside the signature
# stamp (STAMP_BOX, bottom right), in points from the page's lower left corner.
RESULT_QR_AT = (18.0, 2.0)
RESULT_QR_SIZE = 54.0  # 19 mm: ~0.5 mm modules for a verification URL, what a phone camera reads
RESULT_QR_TEXT = "Xác thực văn bản điện tử tại:\n%(url)s"


def stamp_verification_qr(pdf: bytes, url: str) -> bytes:
    """Blocking: ``pdf`` with the QR code to its verification page and the address in words on its
    last page, added as an incremental revision (the signature that follows covers it)."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    last = int(writer.root["/Pages"]["/Count"]) - 1
    page = writer.find_page_for_modification(last)[0].get_object()  # type: ignore[no-untyped-call]
    box = page.get("/CropBox") or page.get("/MediaBox")
    left, bottom = (float(box[0]), float(box[1])) if box is not None else (0.0, 0.0)
    x, y = left + RESULT_QR_AT[0], bottom + RESULT_QR_AT[1]
    size = RESULT_QR_SIZE
    matrix = segno.make_qr(url, error="m").matrix
    quiet = 2  # modules of white around the code, on a white square (the page may be coloured)
    module = size / (len(matrix) + 2 * quiet)
    ops = [b"q 1 g %.3f %.3f %.3f %.3f re f 0 g" % (x, y, size, size)]
    for row_index, row in enumerate(matrix):
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            start = column
            while column < len(row) and row[column]:
                column += 1
            ops.append(
                b"%.3f %.3f %.3f %.3f re"
                % (
                    x + (quiet + start) * module,
                    y + size - (quiet + row_index + 1) * module,
                    (column - start) * module,
                    module,
                )
            )
    ops.append(b"f Q")

    # The page's own content may leave the graphics state changed: the code is drawn from a clean one.
    def stream(data: bytes) -> generic.IndirectObject:
        return writer.add_object(generic.StreamObject(stream_data=data))

    def add(data: bytes, *, prepend: bool = False) -> None:
        writer.add_stream_to_page(last, stream(data), prepend=prepend)  # type: ignore[no-untyped-call]

    if "/Contents" not in page:  # a page with nothing drawn on it yet
        page["/Contents"] = stream(b"")
        writer.update_container(page)
    add(b"q\n", prepend=True)
    add(b"\nQ")
    add(b"\n".join(ops))
    style = TextStampStyle(
        stamp_text=RESULT_QR_TEXT, text_box_style=TextBoxStyle(font=stamp_font(), font_size=7), border_width=0
    )
    TextStamp(writer, style, text_params={"url": url}, box=BoxConstraints(width=220, height=int(size))).apply(
        last, round(x + size + 2), round(y)
    )
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()
