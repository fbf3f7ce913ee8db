"""The production signer (PKCS#11) on a real token: Debian's SoftHSM2, loaded by the same code path
production uses (``Settings(signing_backend="pkcs11")`` → ``Signing`` → ``Pkcs11Signer``), the keys
issued by the development CA and imported into the token (issue 19)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import Engine, func, select, text

from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.backends import storage_for_settings
from motcua.signing.certificates import DevCertificateAuthority, IssuedKey
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.pades import (
    TOKEN_KEY_MISSING,
    TOKEN_MODULE_MISSING,
    TOKEN_NOT_FOUND,
    TOKEN_PIN_REFUSED,
    Pkcs11Signer,
)
from motcua.signing.services import (
    Signing,
    SigningRefusedError,
    new_document_id,
    sign_and_file,
    verify_filed,
    verify_upload,
)
from motcua.signing.signers import Appearance, to_asn1
from motcua.signing.verification import Verdict
from tests.signing.conftest import OTHER_TOKEN, TOKEN, TOKEN_PIN, SoftHsm
from tests.signing.test_signing import a_pdf, ministry
from tests.signing.test_timestamps import InProcess


@dataclass
class HsmWorld:
    tenant: Tenant
    stranger: Tenant  # onboarded, but no key of its own on the token
    units: list[tuple[int, str]]
    tenant_key: IssuedKey
    unit_key: IssuedKey  # the first unit's own key; the second unit has none
    deleted_pem: Path
    ca: DevCertificateAuthority
    settings: Settings
    signing: Signing
    db: Database
    hsm: SoftHsm


@pytest.fixture(scope="module")
async def hsm_world(engine: Engine, live_settings: Settings, softhsm: SoftHsm) -> AsyncIterator[HsmWorld]:
    tenant = ministry(engine, live_settings, "Bộ Thử nghiệm Thiết bị ký")
    stranger = ministry(engine, live_settings, "Bộ Chưa có Khóa")
    with engine.connect() as conn:
        units = [
            (r.id, r.name)
            for r in conn.execute(text(f"SELECT id, name FROM {tenant.schema}.units ORDER BY id"))
        ]
    # Keys from the development CA (held nowhere else), moved onto the token as a provider would.
    ca = DevCertificateAuthority(live_settings.data_dir / "signing")
    tenant_key = ca.issue(tenant.name, tenant.name)
    unit_key = ca.issue(tenant.name, units[0][1])
    softhsm.import_key(TOKEN, f"motcua-{tenant.slug}", tenant_key)
    deleted_pem = softhsm.import_key(TOKEN, f"motcua-{tenant.slug}-unit-{units[0][0]}", unit_key)
    softhsm.add_certificate(TOKEN, "motcua-ca", ca.root().public_bytes(serialization.Encoding.DER))
    roots = softhsm.folder / "roots.pem"
    roots.write_bytes(ca.root_pem())
    settings = replace(
        live_settings,
        signing_backend="pkcs11",
        signing_pkcs11_module=softhsm.module,
        signing_pkcs11_token=TOKEN,
        signing_pkcs11_pin=TOKEN_PIN,
        signing_trust_roots=(roots,),
    )
    db = Database(live_settings.database_url or "", pool_size=2)
    signing = Signing.for_settings(settings, storage_for_settings(settings))
    yield HsmWorld(
        tenant, stranger, units, tenant_key, unit_key, deleted_pem, ca, settings, signing, db, softhsm
    )
    await db.dispose()


async def file_one(signing: Signing, db: Database, tenant: Tenant, *, unit_id: int | None) -> SignedDocument:
    async with db.tenant_session(tenant) as session:
        return await sign_and_file(
            session,
            tenant,
            signing=signing,
            document_id=new_document_id(),
            pdf=a_pdf("Giay phep so 7/GP"),
            title="Giấy phép số 7",
            kind=DocumentKind.RESULT,
            dossier_id=None,
            unit_id=unit_id,
            signer_name="Trần Thị Lãnh Đạo",
        )


async def stored(world: HsmWorld, row: SignedDocument) -> bytes:
    opened = await world.signing.storage.open(world.tenant.schema, row.storage_key)
    return b"".join([chunk async for chunk in opened])


async def test_a_document_signed_on_the_token_passes_pyhankos_validator_and_the_verification(
    hsm_world: HsmWorld,
) -> None:
    w = hsm_world
    unit_id = w.units[0][0]
    row = await file_one(w.signing, w.db, w.tenant, unit_id=unit_id)
    signed = await stored(w, row)

    embedded = PdfFileReader(BytesIO(signed)).embedded_signatures[0]
    status = await async_validate_pdf_signature(
        embedded, ValidationContext(trust_roots=[to_asn1(w.ca.root())])
    )
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signer_reported_dt is not None
    # The signer is the unit's certificate on the token, and the issuer found there travels with it.
    assert status.signing_cert.serial_number == w.unit_key.certificate.serial_number
    assert row.certificate_serial == format(w.unit_key.certificate.serial_number, "x")
    carried = {c.serial_number for c in embedded.other_embedded_certs}
    assert w.ca.root().serial_number in carried
    assert w.tenant_key.certificate.serial_number not in carried  # other keys' certificates stay out

    # The product's own verification (/xac-thuc): the upload, and the filed copy from the QR code.
    async with w.db.tenant_session(w.tenant) as session:
        upload = await verify_upload(session, w.signing, signed)
        filed = await verify_filed(session, w.tenant, w.signing, row.id)
        edited = bytearray(signed)
        edited[signed.index(b"stream") + 12] ^= 0x01  # one byte of the page's content
        tampered = await verify_upload(session, w.signing, bytes(edited))
    assert upload.verdict is Verdict.VALID and upload.matches_filed_copy
    assert upload.document is not None and upload.document.id == row.id
    assert filed is not None and filed.verdict is Verdict.VALID
    assert tampered.verdict is Verdict.MODIFIED and not tampered.matches_filed_copy


async def test_a_unit_without_a_key_of_its_own_signs_with_the_tenants(hsm_world: HsmWorld) -> None:
    w = hsm_world
    row = await file_one(w.signing, w.db, w.tenant, unit_id=w.units[1][0])
    assert row.certificate_serial == format(w.tenant_key.certificate.serial_number, "x")
    assert (await asyncio.to_thread(w.signing.check, await stored(w, row))).verdict is Verdict.VALID


async def test_the_private_key_never_leaves_the_token(hsm_world: HsmWorld) -> None:
    w = hsm_world
    # The only copy of the key outside the token was deleted on import, and the token will not give
    # it out (sensitive, not extractable: reading its value is refused), yet the signature is made.
    assert not w.deleted_pem.exists()
    label = f"motcua-{w.tenant.slug}-unit-{w.units[0][0]}"
    facts = w.hsm.private_key_facts(TOKEN, label)
    assert facts == {"sensitive": True, "extractable": False, "value": "AttributeSensitive"}
    row = await file_one(w.signing, w.db, w.tenant, unit_id=w.units[0][0])
    assert (await asyncio.to_thread(w.signing.check, await stored(w, row))).verdict is Verdict.VALID


async def test_with_a_timestamp_authority_the_token_signs_pades_b_t(
    hsm_world: HsmWorld, live_settings: Settings
) -> None:
    w = hsm_world
    signer = Pkcs11Signer(
        w.hsm.module, TOKEN, TOKEN_PIN, f"motcua-{w.tenant.slug}", timestamper=InProcess(live_settings)
    )
    signed = await asyncio.to_thread(signer.sign, a_pdf(), Appearance(w.tenant.name, "Trần Thị Lãnh Đạo"))
    assert signed.timestamped
    (signature,) = PdfFileReader(BytesIO(signed.data)).embedded_signatures
    status = await async_validate_pdf_signature(
        signature, ValidationContext(trust_roots=[to_asn1(w.ca.root())], crls=[w.ca.crl()])
    )
    assert status.bottom_line and status.signing_cert.serial_number == w.tenant_key.certificate.serial_number
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted


async def test_signatures_in_parallel_take_turns_on_the_token(hsm_world: HsmWorld) -> None:
    # Two signing threads, two keys on one session: every call reaches the token under its lock,
    # and each signature comes out whole and by the right key.
    w = hsm_world
    unit_ids = [w.units[0][0], w.units[1][0]] * 4
    rows = await asyncio.gather(*(file_one(w.signing, w.db, w.tenant, unit_id=u) for u in unit_ids))
    expected = {
        w.units[0][0]: format(w.unit_key.certificate.serial_number, "x"),
        w.units[1][0]: format(w.tenant_key.certificate.serial_number, "x"),
    }
    for unit_id, row in zip(unit_ids, rows, strict=True):
        assert row.certificate_serial == expected[unit_id]
        check = await asyncio.to_thread(w.signing.check, await stored(w, row))
        assert check.verdict is Verdict.VALID and check.certificate_serial == expected[unit_id]


async def test_a_token_that_restarted_is_opened_again(hsm_world: HsmWorld) -> None:
    w = hsm_world
    await file_one(w.signing, w.db, w.tenant, unit_id=None)
    # The module reset under the process, as when an HSM restarts: every session handle is void.
    pkcs11.lib(w.hsm.module).reinitialize()
    row = await file_one(w.signing, w.db, w.tenant, unit_id=None)
    assert (await asyncio.to_thread(w.signing.check, await stored(w, row))).verdict is Verdict.VALID


async def documents(w: HsmWorld, tenant: Tenant) -> int:
    async with w.db.tenant_session(tenant) as session:
        return int(await session.scalar(select(func.count()).select_from(SignedDocument)) or 0)


async def refused(w: HsmWorld, tenant: Tenant, **settings: object) -> str:
    """The refusal a leader would read, with settings changed as given; nothing is filed."""
    before = await documents(w, tenant)
    signing = Signing.for_settings(replace(w.settings, **settings), w.signing.storage)  # type: ignore[arg-type]
    with pytest.raises(SigningRefusedError) as refusal:
        await file_one(signing, w.db, tenant, unit_id=None)
    assert await documents(w, tenant) == before
    return str(refusal.value)


async def test_a_wrong_pin_is_refused_clearly_and_stays_refused(hsm_world: HsmWorld) -> None:
    w = hsm_world
    message = await refused(w, w.tenant, signing_pkcs11_token=OTHER_TOKEN, signing_pkcs11_pin="11112222")
    assert message == TOKEN_PIN_REFUSED and "mã PIN" in message
    # Asked again, the same answer (the process does not offer a refused PIN twice: tokens lock it).
    again = await refused(w, w.tenant, signing_pkcs11_token=OTHER_TOKEN, signing_pkcs11_pin="11112222")
    assert again == TOKEN_PIN_REFUSED
    assert (
        await refused(w, w.tenant, signing_pkcs11_token=OTHER_TOKEN, signing_pkcs11_pin="")
        == TOKEN_PIN_REFUSED
    )
    # A token this process is logged in to is not opened to a different PIN.
    assert await refused(w, w.tenant, signing_pkcs11_pin="99990000") == TOKEN_PIN_REFUSED


async def test_a_missing_or_wrong_module_is_refused_clearly(hsm_world: HsmWorld, tmp_path: Path) -> None:
    w = hsm_world
    missing = await refused(w, w.tenant, signing_pkcs11_module=str(tmp_path / "libkhongco.so"))
    assert missing == TOKEN_MODULE_MISSING and "thiết bị ký số" in missing
    not_a_module = tmp_path / "libgia.so"
    not_a_module.write_bytes(b"not a shared library")
    assert await refused(w, w.tenant, signing_pkcs11_module=str(not_a_module)) == TOKEN_MODULE_MISSING
    unset = await refused(w, w.tenant, signing_pkcs11_module=None)
    assert "Chưa cấu hình thiết bị ký số" in unset


async def test_an_unknown_token_or_a_tenant_without_a_key_is_refused_clearly(hsm_world: HsmWorld) -> None:
    w = hsm_world
    assert await refused(w, w.tenant, signing_pkcs11_token="khong-co-token") == TOKEN_NOT_FOUND
    assert await refused(w, w.tenant, signing_pkcs11_token="") == TOKEN_NOT_FOUND
    # The stranger tenant has no key labelled motcua-<its slug> on the token.
    message = await refused(w, w.stranger)
    assert message == TOKEN_KEY_MISSING and "chưa có khóa ký" in message
