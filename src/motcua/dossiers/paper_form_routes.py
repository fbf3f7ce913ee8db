"""The citizen's copy of the one-stop forms issued for their dossier (Circular 01/2018: the
supplement request, the refusal, the apology, the control sheet): the signed PDF as it was filed,
for the applicant's own dossier only. Officers reach the same files from the workspace
(backoffice), which checks the officer's units."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.dependencies import READ_ONLY
from motcua.core.tenant import Tenant
from motcua.dossiers.paper_forms import file_name, paper_form_of
from motcua.dossiers.services import citizen_dossier
from motcua.identity.guards import requires_login
from motcua.identity.sessions import UserSession
from motcua.signing.models import SignedDocument
from motcua.signing.services import Signing

FORM_PATH = "/my/dossiers/{code:str}/forms/{document_id:str}"


@get(FORM_PATH, guards=[requires_login], include_in_schema=False, opt={READ_ONLY: True})
async def my_paper_form(
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    user: NamedDependency[UserSession],
    signing: NamedDependency[Signing],
    code: FromPath[str],
    document_id: FromPath[str],
) -> Stream:
    # Someone else's dossier, another dossier's document and an internal one all answer the same
    # 404 as an unknown id: nothing tells them apart.
    dossier = await citizen_dossier(db_session, code[:80], user.citizen_id or 0)
    row = await paper_form_of(db_session, dossier.id, document_id) if dossier is not None else None
    if dossier is None or row is None or not row.citizen_visible:
        raise NotFoundException()
    return await paper_form_download(signing, tenant, row, dossier.code)


async def paper_form_download(
    signing: Signing, tenant: Tenant, row: SignedDocument, dossier_code: str
) -> Stream:
    """A filed form exactly as signed, as a download (the applicant's and the officer's route)."""
    chunks = await signing.storage.open(tenant.schema, row.storage_key)
    return Stream(
        chunks,
        media_type="application/pdf",
        headers={
            "content-disposition": f'attachment; filename="{file_name(row, dossier_code)}"',
            "x-content-type-options": "nosniff",
            "cache-control": "private, no-store",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )


router = Router(path="/", route_handlers=[my_paper_form])
