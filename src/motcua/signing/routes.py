"""Public verification of signed documents on the tenant's host, without login.

``GET /xac-thuc/{id}`` (the QR code's target) checks the filed copy again; ``POST /xac-thuc``
checks a PDF someone uploads (size-limited, recognised by its content, nothing kept);
``GET /api/v1/verifications/{id}`` answers the first as JSON. A document of another tenant is
"not found" here: the register is the tenant's own table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from litestar import Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, FromPath
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.apidocs import Refusable
from motcua.core.dependencies import READ_ONLY
from motcua.core.pages import HttpRequest, page
from motcua.core.ratelimit import limited
from motcua.core.tenant import Tenant
from motcua.identity.models import N_
from motcua.signing.models import DocumentKind
from motcua.signing.services import (
    MAX_PDF_BYTES,
    VERIFY_PATH,
    Signing,
    Verification,
    verify_filed,
    verify_upload,
)
from motcua.signing.signers import VIETNAM_TZ
from motcua.signing.verification import NotAPdfError, Verdict

TEMPLATE = "signing/verify.html"
# Room for the multipart envelope around the largest PDF accepted.
_REQUEST_LIMIT = MAX_PDF_BYTES + 64 * 1024
_ID_MAX = 64

NOT_FOUND = N_("Không tìm thấy văn bản có mã này trên cổng. Vui lòng kiểm tra lại mã QR hoặc đường dẫn.")
NO_FILE = N_("Chọn tệp PDF cần kiểm tra.")
TOO_LARGE = N_("Tệp quá lớn: chỉ kiểm tra được tệp PDF đến 20 MB.")
NOT_PDF = N_("Tệp tải lên không phải là tệp PDF. Chỉ kiểm tra được văn bản PDF có chữ ký số.")


@dataclass(frozen=True)
class VerdictView:
    """What the page and the API show of a verification."""

    verdict: Verdict
    ok: bool
    title: str | None
    kind: str | None
    issuer: str | None
    signer: str | None
    signed_at: datetime | None
    signature_valid: bool
    unmodified: bool
    matches_filed_copy: bool


def _view(result: Verification) -> VerdictView:
    row = result.document
    kind: str | None = None
    if row is not None:
        try:
            kind = DocumentKind(row.kind).label
        except ValueError:
            kind = None
    verdict = result.verdict
    # Without a filed copy the time is only what the file claims: shown only if its signature holds.
    claimed = result.check.signer_reported_at if verdict is not Verdict.MODIFIED else None
    signed_at = row.signed_at if row is not None else claimed
    return VerdictView(
        verdict=verdict,
        ok=verdict is Verdict.VALID,
        title=row.title if row is not None else None,
        kind=kind,
        issuer=row.issuer_name if row is not None else None,
        signer=row.signer_name if row is not None else None,
        signed_at=signed_at.astimezone(VIETNAM_TZ) if signed_at is not None else None,
        signature_valid=verdict in (Verdict.VALID, Verdict.UNKNOWN_SIGNER),
        unmodified=verdict is not Verdict.MODIFIED and verdict is not Verdict.NOT_SIGNED,
        matches_filed_copy=result.matches_filed_copy,
    )


@get(VERIFY_PATH, include_in_schema=False)
async def verify_form(request: HttpRequest) -> Response[str]:
    return page(request, TEMPLATE, result=None, error=None, document_id=None)


@get(VERIFY_PATH + "/{document_id:str}", include_in_schema=False, opt={READ_ONLY: True})
async def verify_document(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    signing: NamedDependency[Signing],
    document_id: FromPath[str],
) -> Response[str]:
    result = await verify_filed(db_session, tenant, signing, document_id[:_ID_MAX])
    if result is None:
        return page(
            request,
            TEMPLATE,
            status_code=404,
            result=None,
            document_id=document_id[:_ID_MAX],
            error=NOT_FOUND,
        )
    return page(request, TEMPLATE, result=_view(result), error=None, document_id=document_id)


@post(
    VERIFY_PATH,
    include_in_schema=False,
    guards=[limited("lookup")],
    request_max_body_size=_REQUEST_LIMIT,
    opt={READ_ONLY: True},
    status_code=200,
)
async def verify_uploaded(
    request: HttpRequest,
    db_session: NamedDependency[AsyncSession],
    signing: NamedDependency[Signing],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Response[str]:
    upload = data.get("file")
    error: str | None = None
    content = b""
    if not isinstance(upload, UploadFile):
        error = NO_FILE
    else:
        # One byte over the limit is enough to refuse: never read a larger body into memory.
        content = await upload.read(MAX_PDF_BYTES + 1)
        if not content:
            error = NO_FILE
        elif len(content) > MAX_PDF_BYTES:
            return page(
                request,
                TEMPLATE,
                status_code=413,
                result=None,
                document_id=None,
                error=TOO_LARGE,
            )
    if error is None:
        try:
            result = await verify_upload(db_session, signing, content)
        except NotAPdfError:
            error = NOT_PDF
        else:
            return page(request, TEMPLATE, result=_view(result), error=None, document_id=None, uploaded=True)
    return page(request, TEMPLATE, status_code=400, result=None, document_id=None, error=error)


@get(
    "/api/v1/verifications/{document_id:str}",
    tags=["verification"],
    summary="Verdict on a signed document by its id (the QR code's id)",
    opt={READ_ONLY: True},
    operation_class=Refusable,
    responses={
        404: ResponseSpec(dict[str, str], description="No such document here.", generate_examples=False),
    },
)
async def api_verification(
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    signing: NamedDependency[Signing],
    document_id: FromPath[str],
) -> Response[dict[str, Any]]:
    """The filed copy checked again: signature valid, file unmodified, the signer and time. No personal
    data beyond what the document's title and issuer say. Unknown id (or another portal's) → 404."""
    result = await verify_filed(db_session, tenant, signing, document_id[:_ID_MAX])
    if result is None:
        return Response({"detail": "Không tìm thấy văn bản"}, status_code=404)
    view = _view(result)
    return Response(
        {
            "id": document_id,
            "verdict": view.verdict.value,
            "valid": view.ok,
            "signature_valid": view.signature_valid,
            "unmodified": view.unmodified,
            "matches_filed_copy": view.matches_filed_copy,
            "title": view.title,
            "kind": result.document.kind if result.document is not None else None,
            "issuer": view.issuer,
            "signer": view.signer,
            "signed_at": view.signed_at.isoformat() if view.signed_at else None,
        }
    )


router = Router(path="/", route_handlers=[verify_form, verify_document, verify_uploaded, api_verification])
