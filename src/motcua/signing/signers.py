"""Who holds the key: the ``Signer`` interface, the development key (PKCS#12) and the production
signer (a hardware token or HSM through PKCS#11).

``Signer.sign(pdf, appearance)`` is blocking (cryptography and HarfBuzz work on the CPU): callers
run it in a worker thread (``services.sign_and_file`` does). It returns the signed bytes and the
certificate that signed them.

Production (``MOTCUA_SIGNING_BACKEND=pkcs11``): the key never leaves the token. The settings name
the PKCS#11 module (``MOTCUA_SIGNING_PKCS11_MODULE``, e.g. the HSM vendor's ``.so``), the token
label (``MOTCUA_SIGNING_PKCS11_TOKEN``) and its PIN (``MOTCUA_SIGNING_PKCS11_PIN``); each tenant's
key and certificate carry the label ``motcua-<slug>`` and a unit's own ``motcua-<slug>-unit-<id>``
(the tenant's is used for a unit without one). pyHanko's ``PKCS11Signer`` does the signing; it needs
the ``python-pkcs11`` package, installed with the token's module on production images only. The
trust roots (``MOTCUA_SIGNING_TRUST_ROOTS``: PEM or DER files, the national root CA) decide which
signatures verification accepts. The development keys (``LocalKeySigner``) are refused in production.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fontTools import subset as ft_subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fontTools.ttLib.scaleUpem import scale_upem  # type: ignore[import-untyped]
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.stamp import TextStampStyle

from motcua.identity.models import N_
from motcua.signing.certificates import IssuedKey

# The slips' own font (Vietnamese letters); read by path, the signing layer imports no domain.
STAMP_FONT = Path(__file__).resolve().parent.parent / "dossiers" / "fonts" / "DejaVuSans.ttf"
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


# What a stamp can hold: Latin with Vietnamese letters, combining marks, punctuation. pyHanko reads
# and subsets the font for every signature; cut to these blocks first (once a process), DejaVu's
# ~6,000 glyphs become ~900 and a signature costs a fraction of what it did.
_STAMP_BLOCKS = ((0x20, 0x24F), (0x300, 0x36F), (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x20AB, 0x20AB))


@cache
def stamp_font() -> GlyphAccumulatorFactory:
    font = TTFont(STAMP_FONT, recalcTimestamp=False)
    options = ft_subset.Options()
    options.name_IDs = ["*"]  # the licence records stay with the font
    options.glyph_names = True  # pyHanko subsets again, by glyph name
    options.hinting = False  # paper needs no hinting, and its tables would not follow the new scale
    options.notdef_outline = True
    # Vietnamese uses precomposed letters: no shaping or kerning tables needed, nor hinting on paper.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "MATH"]
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(unicodes=[c for low, high in _STAMP_BLOCKS for c in range(low, high + 1)])
    subsetter.subset(font)
    # pyHanko writes the glyph widths in font units where PDF wants thousandths of an em: DejaVu's
    # 2,048 units would space the letters twice too wide. Scaled to 1,000, the two agree.
    scale_upem(font, 1000)
    buffer = BytesIO()
    font.save(buffer)
    data = buffer.getvalue()
    # GlyphAccumulatorFactory takes a path: a private file named by content, written atomically.
    folder = Path(tempfile.gettempdir())
    path = folder / f"motcua-stamp-{hashlib.sha256(data).hexdigest()[:16]}.ttf"
    if not path.exists():
        temp = folder / f".{path.name}.{os.getpid()}.{threading.get_ident()}"
        temp.write_bytes(data)
        os.replace(temp, path)
    return GlyphAccumulatorFactory(str(path))


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


class Pkcs11Signer:
    """A key on a hardware token or HSM (production). Opens one PKCS#11 session per process and
    signs through pyHanko's ``PKCS11Signer``; the token serialises the key operations itself."""

    _lock = threading.Lock()

    def __init__(
        self,
        module: str,
        token_label: str,
        pin: str,
        key_label: str,
        *,
        timestamper: TimeStamper | None = None,
    ) -> None:
        self.module, self.token_label, self.pin, self.key_label = module, token_label, pin, key_label
        self.timestamper = timestamper
        self._signer: Any = None

    def _open(self) -> Any:
        with self._lock:
            if self._signer is None:
                # Imported here: python-pkcs11 is only on images that talk to a token.
                from pyhanko.config.pkcs11 import TokenCriteria
                from pyhanko.sign import pkcs11

                session = pkcs11.open_pkcs11_session(
                    self.module, token_criteria=TokenCriteria(label=self.token_label), user_pin=self.pin
                )
                self._signer = pkcs11.PKCS11Signer(
                    session, key_label=self.key_label, cert_label=self.key_label
                )
            return self._signer

    def certificate(self) -> x509.Certificate:
        cert = self._open().signing_cert
        return x509.load_der_x509_certificate(cert.dump())

    def sign(self, pdf: bytes, appearance: Appearance) -> SignedPdf:
        data, signed_at = sign_with(self._open(), pdf, appearance, timestamper=self.timestamper)
        return SignedPdf(data, self.certificate(), signed_at, self.timestamper is not None)


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
