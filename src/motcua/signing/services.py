"""Signing and filing a document, and checking one: the interface the domains call.

The order matters, because the QR code printed on a document must point at its own verification
page and the signature must cover the QR code:

    document_id = new_document_id()
    pdf = render(..., qr=verification_url(public_origin(request), document_id))
    row = await sign_and_file(session, tenant, signing=signing, document_id=document_id, pdf=pdf,
                              title=..., kind=DocumentKind.SLIP, dossier_id=..., unit_id=...,
                              signer_name=...)

``Signing`` (one per process, built by ``Signing.for_settings(settings, storage)``; the web app
provides it as the ``signing`` dependency) holds who signs (the development CA's keys or the
PKCS#11 token, ``signers``), what verification trusts, the timestamp authority, and where the
signed files go. Signing sits below ``dossiers``, so it cannot reach the dossiers' storage module:
the app hands it the same storage object (``FileStore`` is the part of ``dossiers.storage.Storage``
it uses), and the signed file lands in the tenant's folder or bucket next to the dossier's files.

The signature is computed in a worker thread, at most ``SIGNING_THREADS`` at a time per process,
so a request never waits on another request's signature on the event loop.
"""

from __future__ import annotations

import hashlib
import importlib
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import anyio
import anyio.to_thread
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.identity.models import N_
from motcua.organisation.models import Unit
from motcua.signing.certificates import DevCertificateAuthority
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.signers import (
    TEST_KEY_REFUSED,
    Appearance,
    Signer,
    SigningRefusedError,
    check_usable,
    to_asn1,
)
from motcua.signing.verification import PDF_MAGIC, NotAPdfError, PdfCheck, Verdict, check_pdf
from motcua.tenancy.models import Domain

if TYPE_CHECKING:
    from pyhanko.sign.timestamps.api import TimeStamper

# pyHanko (and with it fontTools, HarfBuzz, aiohttp) is imported by the functions that sign or
# read a PDF, from ``pades`` and ``verification``: about half a second of every process's start
# otherwise, for processes that may never sign.
LIBRARY_MODULES = ("motcua.signing.pades", "pyhanko.sign.validation", "pyhanko_certvalidator", "aiohttp")


def load_signing_libraries() -> None:
    """Import now what signing and checking import on first use (the web process calls it while
    it waits at its start gate, so that a citizen's first slip does not wait for it)."""
    for name in LIBRARY_MODULES:
        importlib.import_module(name)


SIGNING_THREADS = 2
TSA_UNREACHABLE = N_(
    "Không kết nối được dịch vụ cấp dấu thời gian: chưa ký được, vui lòng thử lại sau ít phút."
)
CHECK_THREADS = 4
# How long a filed copy's verdict is reused (a revocation takes effect at once: see cached_verdict).
VERDICT_TTL = 300.0
VERDICTS_KEPT = 4096
# A result the leader signs, or a PDF anyone uploads to be checked.
MAX_PDF_BYTES = 20 * 1024 * 1024
VERIFY_PATH = "/xac-thuc"

__all__ = [
    "MAX_PDF_BYTES",
    "DocumentKind",
    "FileStore",
    "NotAPdfError",
    "NotSignableError",
    "Signing",
    "SigningRefusedError",
    "Verdict",
    "new_document_id",
    "sign_and_file",
    "sign_result",
    "signable_problem",
    "signed_bytes",
    "signed_documents_of",
    "tenant_origin",
    "verification_url",
]


class StoredFile(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str: ...


@runtime_checkable
class FileStore(Protocol):
    """What signing needs of ``dossiers.storage.Storage`` (which the app passes in)."""

    async def put(
        self, tenant_schema: str, data: bytes | AsyncIterable[bytes], *, media_type: str
    ) -> StoredFile: ...

    async def open(self, tenant_schema: str, key: str) -> AsyncIterator[bytes]: ...


def new_document_id() -> str:
    """The public id of a document to be signed: 20 random characters, unguessable, URL-safe."""
    return secrets.token_urlsafe(15)


def verification_url(origin: str, document_id: str) -> str:
    """The QR code's target: ``origin`` is the tenant site's ``scheme://host`` as the citizen
    reaches it (``core.pages.public_origin(request)``)."""
    return f"{origin.rstrip('/')}{VERIFY_PATH}/{document_id}"


async def tenant_origin(session: AsyncSession, settings: Settings, tenant: Tenant) -> str:
    """The tenant site's ``scheme://host`` where no request tells it (jobs): its first domain, or
    ``<slug>.<platform domain>``. Production is always served over TLS by the proxy in front."""
    host = await session.scalar(
        select(Domain.host)
        .where(Domain.tenant_id == tenant.id)
        .order_by(Domain.created_at, Domain.host)
        .limit(1)
    )
    host = host or f"{tenant.slug}.{settings.platform_domain}"
    if settings.is_production:
        return f"https://{host}"
    return f"http://{host}" + (f":{settings.port}" if settings.port != 80 else "")


@dataclass
class Signing:
    """Who signs, what verification trusts, and where signed files go (one per process)."""

    settings: Settings
    storage: FileStore
    ca: DevCertificateAuthority | None
    extra_roots: tuple[asn1_x509.Certificate, ...] = ()
    _signers: dict[tuple[str, int | None], Signer] = field(default_factory=dict)
    _limiter: anyio.CapacityLimiter | None = None
    _check_limiter: anyio.CapacityLimiter | None = None
    # Verdicts on filed copies: (schema, id, sha256) → (when, revoked serials, check). A filed copy
    # never changes; only a revocation changes its verdict, and that is part of the check below.
    _verdicts: OrderedDict[tuple[str, str, str], tuple[float, frozenset[int], PdfCheck]] = field(
        default_factory=OrderedDict
    )

    @classmethod
    def for_settings(cls, settings: Settings, storage: FileStore) -> Signing:
        local = settings.signing_backend == "local" and not settings.is_production
        return cls(
            settings=settings,
            storage=storage,
            ca=DevCertificateAuthority(settings.data_dir / "signing") if local else None,
            extra_roots=tuple(_load_roots(settings.signing_trust_roots)),
        )

    def timestamper(self) -> TimeStamper | None:
        from pyhanko.sign.timestamps import HTTPTimeStamper

        url = self.settings.signing_tsa_url
        return HTTPTimeStamper(url) if url else None

    def signer_for(self, tenant: Tenant, unit_id: int | None, unit_name: str) -> Signer:
        key = (tenant.slug, unit_id)
        signer = self._signers.get(key)
        if signer is None:
            signer = self._new_signer(tenant, unit_id, unit_name)
            self._signers[key] = signer
        return signer

    def _new_signer(self, tenant: Tenant, unit_id: int | None, unit_name: str) -> Signer:
        from motcua.signing.pades import LocalKeySigner, Pkcs11Signer

        s = self.settings
        if s.signing_backend == "pkcs11":
            if not s.signing_pkcs11_module:
                raise SigningRefusedError(N_("Chưa cấu hình thiết bị ký số (PKCS#11): không thể ký."))
            label = f"motcua-{tenant.slug}"
            return Pkcs11Signer(
                s.signing_pkcs11_module,
                s.signing_pkcs11_token,
                s.signing_pkcs11_pin,
                f"{label}-unit-{unit_id}" if unit_id is not None else label,
                fallback_label=label,  # a unit without a key of its own signs with the tenant's
                timestamper=self.timestamper(),
            )
        if self.ca is None:
            raise SigningRefusedError(TEST_KEY_REFUSED)
        key = self.ca.key_for(tenant.slug, tenant.name, unit_id=unit_id, unit_name=unit_name)
        return LocalKeySigner(key, timestamper=self.timestamper(), production=s.is_production)

    def revoked_serials(self) -> frozenset[int]:
        return self.ca.revoked_serials() if self.ca else frozenset()

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        roots = list(self.extra_roots)
        if self.ca is not None:
            roots.append(to_asn1(self.ca.root()))
        return roots

    def crls(self) -> list[bytes]:
        return [self.ca.crl()] if self.ca is not None else []

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        # Made on first use, inside the event loop that will use it.
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(SIGNING_THREADS)
        return self._limiter

    @property
    def check_limiter(self) -> anyio.CapacityLimiter:
        # Checks have threads of their own: a verification never queues behind a signature.
        if self._check_limiter is None:
            self._check_limiter = anyio.CapacityLimiter(CHECK_THREADS)
        return self._check_limiter

    def cached_verdict(self, key: tuple[str, str, str]) -> PdfCheck | None:
        entry = self._verdicts.get(key)
        if entry is None or time.monotonic() - entry[0] > VERDICT_TTL or entry[1] != self.revoked_serials():
            return None
        return entry[2]

    def keep_verdict(self, key: tuple[str, str, str], check: PdfCheck) -> None:
        self._verdicts[key] = (time.monotonic(), self.revoked_serials(), check)
        self._verdicts.move_to_end(key)
        while len(self._verdicts) > VERDICTS_KEPT:
            self._verdicts.popitem(last=False)

    def check(self, data: bytes) -> PdfCheck:
        """Blocking: the validator's verdict on these bytes (run it in a thread)."""
        return check_pdf(
            data,
            trust_roots=self.trust_roots(),
            crls=self.crls(),
            revoked_serials=self.revoked_serials(),
            # Production looks revocation up (OCSP/CRL of the national CA); development has its own list.
            allow_fetching=self.settings.is_production,
        )


def _load_roots(paths: tuple[Path, ...]) -> list[asn1_x509.Certificate]:
    roots: list[asn1_x509.Certificate] = []
    for path in paths:
        data = path.read_bytes()
        if asn1_pem.detect(data):
            roots.extend(asn1_x509.Certificate.load(der) for _, _, der in asn1_pem.unarmor(data, True))
        else:
            roots.append(asn1_x509.Certificate.load(data))
    return roots


async def sign_and_file(
    session: AsyncSession,
    tenant: Tenant,
    *,
    signing: Signing,
    document_id: str,
    pdf: bytes,
    title: str,
    kind: DocumentKind | str,
    dossier_id: int | None,
    unit_id: int | None,
    signer_name: str,
    citizen_visible: bool = True,
) -> SignedDocument:
    """Sign ``pdf`` with the unit's key (the tenant's without a unit), store it and register it.

    Raises ``SigningRefusedError`` (a Vietnamese message for the person signing) when the key is
    revoked, expired or not allowed here, and ``NotAPdfError`` when ``pdf`` is not a PDF."""
    import aiohttp
    from pyhanko.sign.timestamps import TimestampRequestError

    if not pdf.startswith(PDF_MAGIC):
        raise NotAPdfError("not a PDF")
    unit = await session.get(Unit, unit_id) if unit_id is not None else None
    issuer = unit.name if unit is not None else tenant.name
    signer = signing.signer_for(tenant, unit_id if unit is not None else None, issuer)
    cert = await anyio.to_thread.run_sync(signer.certificate, limiter=signing.limiter)
    check_usable(cert, signing.revoked_serials(), datetime.now(UTC))
    appearance = Appearance(unit_name=issuer, signer_name=signer_name)
    try:
        signed = await anyio.to_thread.run_sync(
            partial(signer.sign, pdf, appearance), limiter=signing.limiter
        )
    except (TimestampRequestError, aiohttp.ClientError, OSError) as exc:
        # B-T was asked for: a signature without its timestamp is not what was configured.
        raise SigningRefusedError(TSA_UNREACHABLE) from exc
    stored = await signing.storage.put(tenant.schema, signed.data, media_type="application/pdf")
    row = SignedDocument(
        id=document_id,
        kind=str(kind),
        title=title[:300],
        dossier_id=dossier_id,
        unit_id=unit.id if unit is not None else None,
        issuer_name=issuer[:300],
        signer_name=signer_name[:200],
        certificate_serial=format(signed.certificate.serial_number, "x"),
        certificate_subject=signed.certificate.subject.rfc4514_string()[:500],
        signed_at=signed.signed_at,
        timestamped=signed.timestamped,
        sha256=stored.sha256,
        size=stored.size,
        storage_key=stored.key,
        citizen_visible=citizen_visible,
    )
    session.add(row)
    await session.flush()
    return row


async def signed_documents_of(
    session: AsyncSession, dossier_id: int, *, citizen: bool = False
) -> list[SignedDocument]:
    """A dossier's signed documents, oldest first (``citizen``: only those its applicant sees)."""
    query = select(SignedDocument).where(SignedDocument.dossier_id == dossier_id)
    if citizen:
        query = query.where(SignedDocument.citizen_visible.is_(True))
    return list((await session.scalars(query.order_by(SignedDocument.signed_at))).all())


async def signed_bytes(signing: Signing, tenant: Tenant, row: SignedDocument) -> bytes:
    """The filed signed PDF (for the dossier's pages to serve; they check who may read it)."""
    return b"".join([chunk async for chunk in await signing.storage.open(tenant.schema, row.storage_key)])


class NotSignableError(ValueError):
    """A result that cannot be signed as it is; the message says why, in Vietnamese."""


NOT_A_PDF_RESULT = N_("Kết quả phải là tệp PDF để ký số. Đề nghị chuyển văn bản sang PDF rồi tải lên lại.")
UNREADABLE_PDF = N_(
    "Không đọc được tệp PDF này (tệp hỏng, có mật khẩu hoặc không có trang nào): không thể ký số. "
    "Đề nghị xuất lại tệp PDF từ văn bản gốc rồi tải lên lại."
)
RESULT_TOO_BIG = N_("Tệp kết quả quá lớn để ký số (tối đa 20 MB).")


def signable_problem(data: bytes) -> str | None:
    """Blocking: why these bytes cannot be signed as a result (a Vietnamese message), or None."""
    if not data.startswith(PDF_MAGIC):
        return NOT_A_PDF_RESULT
    if len(data) > MAX_PDF_BYTES:
        return RESULT_TOO_BIG
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(BytesIO(data), strict=False)
        if reader.encrypted or int(reader.root["/Pages"]["/Count"]) < 1:
            return UNREADABLE_PDF
    except Exception:  # a hostile or broken file fails the parser in many ways
        return UNREADABLE_PDF
    return None


async def sign_result(
    session: AsyncSession,
    tenant: Tenant,
    *,
    signing: Signing,
    data: bytes,
    title: str,
    dossier_id: int,
    unit_id: int | None,
    signer_name: str,
    origin: str,
) -> SignedDocument:
    """The leader's approval: the uploaded result, if it is a PDF, stamped with the QR code to its
    verification page (``origin``: the tenant site's ``scheme://host``), signed and filed with the
    dossier. Anything else is refused with a message the leader can act on (no silent conversion)."""
    from motcua.signing.pades import stamp_verification_qr

    problem = await anyio.to_thread.run_sync(signable_problem, data, limiter=signing.limiter)
    if problem is not None:
        raise NotSignableError(problem)
    document_id = new_document_id()
    stamped = await anyio.to_thread.run_sync(
        stamp_verification_qr, data, verification_url(origin, document_id), limiter=signing.limiter
    )
    return await sign_and_file(
        session,
        tenant,
        signing=signing,
        document_id=document_id,
        pdf=stamped,
        title=title,
        kind=DocumentKind.RESULT,
        dossier_id=dossier_id,
        unit_id=unit_id,
        signer_name=signer_name,
    )


@dataclass(frozen=True)
class Verification:
    """The verdict shown to whoever checks a document."""

    verdict: Verdict
    document: SignedDocument | None  # the filed document it is (or claims to be)
    matches_filed_copy: bool
    check: PdfCheck


async def verify_filed(
    session: AsyncSession, tenant: Tenant, signing: Signing, document_id: str
) -> Verification | None:
    """The filed copy of a document, checked again (None: no such document in this tenant)."""
    row = await session.get(SignedDocument, document_id)
    if row is None:
        return None
    key = (tenant.schema, row.id, row.sha256)
    check = signing.cached_verdict(key)
    if check is None:
        chunks = [chunk async for chunk in await signing.storage.open(tenant.schema, row.storage_key)]
        data = b"".join(chunks)
        check = await anyio.to_thread.run_sync(signing.check, data, limiter=signing.check_limiter)
        # A stored file that no longer has its registered hash was changed where it is kept.
        if hashlib.sha256(data).hexdigest() != row.sha256:
            check = PdfCheck(Verdict.MODIFIED, check.certificate_serial, check.certificate_subject)
        signing.keep_verdict(key, check)
    same = check.verdict is not Verdict.MODIFIED
    verdict = check.verdict
    if verdict is Verdict.VALID and check.certificate_serial != row.certificate_serial:
        verdict = Verdict.UNKNOWN_SIGNER
    return Verification(verdict, row, same, check)


async def verify_upload(session: AsyncSession, signing: Signing, data: bytes) -> Verification:
    """Someone's copy of a document: is it signed, intact, by this authority, the filed one?
    ``NotAPdfError`` when the bytes are not a PDF."""
    check = await anyio.to_thread.run_sync(signing.check, data, limiter=signing.check_limiter)
    digest = hashlib.sha256(data).hexdigest()
    filed = await session.scalar(select(SignedDocument).where(SignedDocument.sha256 == digest).limit(1))
    verdict = check.verdict
    if verdict in (Verdict.VALID, Verdict.REVOKED, Verdict.EXPIRED) and filed is None:
        # Trusted, but is it one of this authority's keys? Only keys it has signed with count:
        # another tenant's document (same national root) is not this authority's.
        known = await session.scalar(
            select(SignedDocument.id)
            .where(SignedDocument.certificate_serial == check.certificate_serial)
            .limit(1)
        )
        if known is None:
            verdict = Verdict.UNKNOWN_SIGNER
    return Verification(verdict, filed, filed is not None, check)
