"""Result documents signed where they become final (issue 19).

A result is final at the leader's approval (the workflow's leader step, after which the result
goes back to the desk), signed with the key of the unit holding that step. A dossier outside the
workflow (a tenant without units, a procedure whose plan has no leader step) has no approval: its
results become final when the officer finishes processing, and are signed then with the deciding
unit's key (the tenant's without one).

Each result uploaded as PDF is stamped with the QR code to its verification page, signed, and
filed: the dossier's file then points at the signed copy (the citizen's document store, "Kho giấy
tờ", lists it), and the register of signed documents holds its sha256. A file that is not a PDF
was refused when it was uploaded; one that slipped through before (uploaded before signing
existed) refuses the approval with a message naming it. A revoked or expired key refuses too,
and nothing is changed (the callers run this in a savepoint with the step or action).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.backoffice.services import RESULT_DOCUMENT
from motcua.core.messages import Message
from motcua.core.tenant import Tenant
from motcua.dossiers.lifecycle import DossierError
from motcua.dossiers.models import Dossier, DossierFile
from motcua.identity.models import N_
from motcua.signing.models import DocumentKind, SignedDocument
from motcua.signing.services import NotSignableError, Signing, sign_result

ALREADY_SIGNED = N_(
    "Kết quả của hồ sơ đã được lãnh đạo phê duyệt và ký số: không tải thêm văn bản kết quả được."
)
RESULT_NOT_SIGNABLE = N_("Không ký số được văn bản kết quả “%(file)s”: %(problem)s")


async def signed_result_hashes(session: AsyncSession, dossier_id: int) -> set[str]:
    return set(
        (
            await session.scalars(
                select(SignedDocument.sha256).where(
                    SignedDocument.dossier_id == dossier_id, SignedDocument.kind == DocumentKind.RESULT.value
                )
            )
        ).all()
    )


async def unsigned_results(session: AsyncSession, dossier_id: int) -> list[DossierFile]:
    """The dossier's result files not signed yet, oldest first (a signed one's file is the signed copy)."""
    signed = await signed_result_hashes(session, dossier_id)
    files = (
        await session.scalars(
            select(DossierFile)
            .where(DossierFile.dossier_id == dossier_id, DossierFile.document_code == RESULT_DOCUMENT)
            .order_by(DossierFile.created_at, DossierFile.id)
        )
    ).all()
    return [f for f in files if f.sha256 not in signed]


async def sign_results(
    session: AsyncSession,
    tenant: Tenant,
    dossier: Dossier,
    *,
    signing: Signing,
    origin: str,
    unit_id: int | None,
    signer_name: str,
) -> list[SignedDocument]:
    """Sign and file every result of ``dossier`` not signed yet. Raises ``DossierError`` naming a
    file that cannot be signed, ``SigningRefusedError`` when the key may not sign."""
    signed: list[SignedDocument] = []
    for file in await unsigned_results(session, dossier.id):
        chunks = [chunk async for chunk in await signing.storage.open(tenant.schema, file.storage_key)]
        try:
            row = await sign_result(
                session,
                tenant,
                signing=signing,
                data=b"".join(chunks),
                title=f"Kết quả giải quyết hồ sơ {dossier.code}: {file.display_name}",
                dossier_id=dossier.id,
                unit_id=unit_id,
                signer_name=signer_name,
                origin=origin,
            )
        except NotSignableError as exc:
            raise DossierError(
                Message(RESULT_NOT_SIGNABLE, file=file.display_name, problem=Message(str(exc)))
            ) from None
        # The dossier's file is the signed copy from now on: the workspace, the citizen's page and
        # document store serve it (the unsigned upload is left in storage, unreferenced).
        file.storage_key = row.storage_key
        file.size = row.size
        file.sha256 = row.sha256
        file.media_type = "application/pdf"
        signed.append(row)
    await session.flush()
    return signed
