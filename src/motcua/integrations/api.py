"""The API for systems: the token endpoint and the dossier intake and read routes
(`/oauth/token`, `/api/v1/...`).

Routes parse, authenticate and call the actions; every call of an authenticated client leaves a
row in the tenant's audit trail (``api.called``: client, method, path, status) — in the call's
own transaction when it succeeds, in a transaction of its own when it is refused, since the
call's transaction is then rolled back.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor, ActorKind, tenant_entry
from motcua.core.db import Database
from motcua.core.messages import Message
from motcua.core.pages import client_address
from motcua.core.ratelimit import client_key, spend
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.intake import (
    Applicant,
    IntakeDocument,
    IntakeErrors,
    check_applicant,
    personal_id_problem,
    receive_dossier,
)
from motcua.dossiers.models import Channel, Dossier, DossierHistory, DossierStatus
from motcua.dossiers.services import upload_max_mb
from motcua.dossiers.slip import filed_slip, issue_signed_slip
from motcua.dossiers.storage import Storage
from motcua.dossiers.uploads import UploadRejectedError, ValidatedUpload, validate_upload
from motcua.integrations import openapi, tokens
from motcua.integrations.auth import (
    API_BUDGET,
    ProblemError,
    audit_refused,
    authenticate,
    called,
    client_actor,
    http_problem_response,
    require_scope,
)
from motcua.integrations.models import ApiClientRow
from motcua.integrations.oauth import LitestarOAuth2Request, TokenServer, named_client_id
from motcua.signing.services import Signing, tenant_origin, verification_url

HttpRequest = Request[Any, Any, Any]

# Several documents of up to the tenant's limit each (10 MB by default), with their envelope.
INTAKE_REQUEST_LIMIT = 60 * 1024 * 1024
TOKEN_REQUEST_LIMIT = 8 * 1024
MAX_DOCUMENTS = 20
MAX_DATA_FIELDS = 200
DATA_VALUE_MAX = 4000
EXTERNAL_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
PROCEDURE_CODE = re.compile(r"^[A-Za-z0-9._\-]{1,40}$")
DOCUMENT_CODE = re.compile(r"^[A-Za-z0-9._\-]{1,40}$")
PHONE = re.compile(r"^\+?[0-9 .\-]{6,20}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
# The API handlers answer every error of their own, and Litestar's, as problem+json.
PROBLEMS: dict[type[Exception], Any] = {HTTPException: http_problem_response}
_API_OPTS: dict[str, Any] = {"exception_handlers": PROBLEMS, "opt": {"exclude_from_csrf": True}}
CHANNEL_CODES = {
    Channel.IN_PERSON: "in_person",
    Channel.ONLINE: "online",
    Channel.POSTAL: "postal",
    Channel.NATIONAL_PORTAL: "national_portal",
}


# The token endpoint ---------------------------------------------------------------------------------
@post(
    "/oauth/token",
    tags=["oauth"],
    summary="Get an access token (OAuth 2.0 client credentials)",
    description=openapi.GRANT_DESCRIPTION,
    operation_class=openapi.TOKEN_OPERATION,
    operation_id=openapi.TOKEN_ID,
    security=[{"clientBasic": []}, {}],
    request_max_body_size=TOKEN_REQUEST_LIMIT,
    status_code=200,
    **_API_OPTS,
)
async def token_endpoint(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    redis: NamedDependency[Any],
) -> Response[Any]:
    form = await request.form()
    fields: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key[:64], []).append(value[:512])
    named = named_client_id(request.headers, fields)
    named = named[:64] if named else None
    who = f"{tenant.slug}:token:{named}" if named else f"token:{client_key(request)}"
    wait = await spend(redis, API_BUDGET, settings.rate_limits[API_BUDGET], who)
    if wait is not None:
        raise ProblemError(
            429, detail=Message("Vượt quá số yêu cầu cho phép mỗi phút."), headers={"Retry-After": str(wait)}
        )
    row = None
    if named:
        row = await db_session.scalar(
            select(ApiClientRow).where(ApiClientRow.client_id == named, ApiClientRow.revoked_at.is_(None))
        )

    def make_token(client: ApiClientRow, scopes: list[str]) -> str:
        return tokens.issue(
            settings.secret_key,
            tenant.slug,
            client_id=client.client_id,
            secret_hash=client.secret_hash,
            scopes=scopes,
        )

    server = TokenServer(row, make_token)
    # TLS ends at the reverse proxy in front of the app (infra/), so the app itself sees http;
    # Authlib's transport check would otherwise refuse every request behind it.
    uri = str(request.url.with_replacements(scheme="https"))
    oauth_request = LitestarOAuth2Request(
        method=request.method, uri=uri, headers=request.headers, form=fields
    )
    response: Response[Any] = server.create_token_response(oauth_request)
    if row is not None:
        actor = Actor(kind=ActorKind.SYSTEM, id=f"api-{row.client_id}", address=client_address(request))
        if server.issued is not None:
            entry = tenant_entry(
                "api.token_issued",
                actor=actor,
                client_id=row.client_id,
                scopes=server.issued[1],
                address=client_address(request),
            )
        else:
            entry = tenant_entry(
                "api.token_refused",
                actor=actor,
                client_id=row.client_id,
                status=response.status_code,
                address=client_address(request),
            )
        await db_session.execute(entry)
    return response


# Intake ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IntakeRequest:
    external_id: str
    procedure_code: str
    applicant: Applicant
    data: dict[str, str]
    submitted_by_citizen: bool


_TOP_LEVEL = {"external_id", "procedure_code", "applicant", "data", "submitted_by_citizen"}
_APPLICANT = {"personal_id", "full_name", "phone", "email", "address"}


def _text(
    obj: dict[str, Any], key: str, field: str, errors: dict[str, str], *, required: bool, max_length: int
) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            errors[field] = Message("Trường này là bắt buộc.")
        return None
    if not isinstance(value, str):
        errors[field] = Message("Phải là một chuỗi ký tự.")
        return None
    if len(value) > max_length:
        errors[field] = Message("Dài tối đa %(n)s ký tự.", n=max_length)
        return None
    if required and not value.strip():
        errors[field] = Message("Trường này là bắt buộc.")
        return None
    return value


def parse_intake(body: Any) -> IntakeRequest | dict[str, str]:
    """The intake request, or every field that is wrong (named as in the body: ``applicant.email``)."""
    if not isinstance(body, dict):
        return {"dossier": Message("Phải là một đối tượng JSON.")}
    errors: dict[str, str] = {}
    for key in list(body)[:50]:
        if key not in _TOP_LEVEL:
            errors[str(key)[:60]] = Message("Trường này không được hỗ trợ.")
    external_id = _text(body, "external_id", "external_id", errors, required=True, max_length=128)
    if external_id is not None and "external_id" not in errors and not EXTERNAL_ID.match(external_id):
        errors["external_id"] = Message("Chỉ gồm chữ cái không dấu, chữ số và . _ : -")
    code = _text(body, "procedure_code", "procedure_code", errors, required=True, max_length=40)
    if code is not None and "procedure_code" not in errors and not PROCEDURE_CODE.match(code):
        errors["procedure_code"] = Message("Mã thủ tục không hợp lệ.")
    applicant: Applicant | None = None
    raw_applicant = body.get("applicant")
    if not isinstance(raw_applicant, dict):
        errors["applicant"] = Message("Trường này là bắt buộc và phải là một đối tượng JSON.")
    else:
        for key in list(raw_applicant)[:50]:
            if key not in _APPLICANT:
                errors[f"applicant.{str(key)[:60]}"] = Message("Trường này không được hỗ trợ.")
        personal_id = _text(
            raw_applicant, "personal_id", "applicant.personal_id", errors, required=True, max_length=12
        )
        full_name = _text(
            raw_applicant, "full_name", "applicant.full_name", errors, required=True, max_length=200
        )
        phone = _text(raw_applicant, "phone", "applicant.phone", errors, required=False, max_length=20)
        if phone and "applicant.phone" not in errors and not PHONE.match(phone):
            errors["applicant.phone"] = Message("Số điện thoại không hợp lệ.")
        email = _text(raw_applicant, "email", "applicant.email", errors, required=False, max_length=254)
        if email and "applicant.email" not in errors and not EMAIL.match(email):
            errors["applicant.email"] = Message("Địa chỉ thư điện tử không hợp lệ.")
        address = _text(raw_applicant, "address", "applicant.address", errors, required=False, max_length=300)
        if personal_id is not None and full_name is not None:
            applicant = Applicant(
                personal_id=personal_id,
                full_name=full_name,
                phone=phone or None,
                email=email or None,
                address=address or None,
            )
            for field, message in check_applicant(applicant).items():
                errors.setdefault(field, message)
        elif personal_id is not None and (problem := personal_id_problem(personal_id)):
            errors["applicant.personal_id"] = problem
    data: dict[str, str] = {}
    raw_data = body.get("data", {})
    if raw_data is None:
        raw_data = {}
    if not isinstance(raw_data, dict):
        errors["data"] = Message("Phải là một đối tượng JSON.")
    elif len(raw_data) > MAX_DATA_FIELDS:
        errors["data"] = Message("Tối đa %(n)s trường.", n=MAX_DATA_FIELDS)
    else:
        for key, value in raw_data.items():
            field = f"data.{str(key)[:60]}"
            if not isinstance(value, str):
                errors[field] = Message("Phải là một chuỗi ký tự.")
            elif len(value) > DATA_VALUE_MAX:
                errors[field] = Message("Dài tối đa %(n)s ký tự.", n=DATA_VALUE_MAX)
            else:
                data[str(key)] = value
    by_citizen = body.get("submitted_by_citizen", True)
    if not isinstance(by_citizen, bool):
        errors["submitted_by_citizen"] = Message("Phải là true hoặc false.")
    if errors or applicant is None or external_id is None or code is None:
        return errors or {"dossier": Message("Dữ liệu không hợp lệ.")}
    return IntakeRequest(
        external_id=external_id,
        procedure_code=code,
        applicant=applicant,
        data=data,
        submitted_by_citizen=bool(by_citizen),
    )


def _media_type(request: HttpRequest) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _decode_json(raw: bytes | str, field: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProblemError(
            400,
            detail=Message("Nội dung JSON không đọc được."),
            errors={field: Message("JSON không hợp lệ.")},
        ) from None


async def _read_body(request: HttpRequest) -> tuple[Any, list[tuple[str, UploadFile]]]:
    """The ``dossier`` object and the document parts (``document:<code>``)."""
    media = _media_type(request)
    if media == "application/json":
        return _decode_json(await request.body(), "dossier"), []
    if media != "multipart/form-data":
        raise ProblemError(
            415, detail=Message("Gửi application/json, hoặc multipart/form-data khi kèm giấy tờ.")
        )
    try:
        form = await request.form()
    except ValueError:
        # Litestar's multipart parser raises UnicodeDecodeError on a text part that is not UTF-8.
        raise ProblemError(400, detail=Message("Nội dung multipart không đọc được.")) from None
    dossier: Any = None
    files: list[tuple[str, UploadFile]] = []
    errors: dict[str, str] = {}
    for name, value in form.multi_items():
        if name == "dossier":
            raw = await value.read() if isinstance(value, UploadFile) else value
            dossier = _decode_json(raw, "dossier")
        elif name.startswith("document:") and isinstance(value, UploadFile):
            code = name.removeprefix("document:")
            if not DOCUMENT_CODE.match(code):
                errors[f"documents.{code[:60]}"] = Message("Mã giấy tờ không hợp lệ.")
            else:
                files.append((code, value))
        else:
            errors[name[:60] or "body"] = Message(
                "Phần này không được hỗ trợ (dossier hoặc document:<mã giấy tờ>)."
            )
    if dossier is None:
        errors["dossier"] = Message("Thiếu phần dossier (JSON).")
    if len(files) > MAX_DOCUMENTS:
        errors["documents"] = Message("Tối đa %(n)s tệp.", n=MAX_DOCUMENTS)
    if errors:
        raise ProblemError(422, errors=errors)
    return dossier, files


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(64 * 1024):
        yield chunk


async def _check_files(
    tenant: Tenant, files: list[tuple[str, UploadFile]]
) -> list[tuple[str, ValidatedUpload]]:
    checked: list[tuple[str, ValidatedUpload]] = []
    errors: dict[str, str] = {}
    too_large = False
    for code, upload in files:
        try:
            validated = await validate_upload(
                _chunks(upload), max_bytes=upload_max_mb(tenant) * 1024 * 1024, filename=upload.filename
            )
        except UploadRejectedError as exc:
            too_large = too_large or exc.code == "too_large"
            errors[f"documents.{code}"] = str(exc)
            continue
        checked.append((code, validated))
    if errors:
        raise ProblemError(413 if too_large else 422, errors=errors)
    return checked


def _tracking_url(origin: str, code: str) -> str:
    return f"{origin}/tracking?code={quote(code)}"


def _vietnam(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).isoformat()


def receipt(origin: str, dossier: Dossier) -> dict[str, Any]:
    """``origin``: the tenant's public site (signing.services.tenant_origin), as on the slip's QR
    code: the page a citizen is sent to, whatever host the system called."""
    return {
        "code": dossier.code,
        "status": dossier.status,
        "status_label": DossierStatus(dossier.status).label,
        "received_at": _vietnam(dossier.received_at),
        "due_at": _vietnam(dossier.due_at),
        "tracking_url": _tracking_url(origin, dossier.code),
    }


def _same_dossier(dossier: Dossier, spec: IntakeRequest) -> None:
    """The same external id must mean the same dossier: another procedure or applicant is a
    conflict, not a repeat."""
    if (
        dossier.procedure_code != spec.procedure_code
        or dossier.applicant_personal_id != spec.applicant.personal_id
    ):
        raise ProblemError(
            409,
            detail=Message("Mã hồ sơ bên ngoài này đã được dùng cho một hồ sơ khác."),
            errors={"external_id": Message("Đã có hồ sơ khác với mã này (khác thủ tục hoặc người nộp).")},
        )


async def _by_external_id(session: AsyncSession, source_system: str, external_id: str) -> Dossier | None:
    return await session.scalar(
        select(Dossier).where(Dossier.source_system == source_system, Dossier.external_id == external_id)
    )


@post(
    "/api/v1/dossiers",
    tags=["dossiers"],
    summary="Submit a dossier from another system",
    description=openapi.INTAKE_DESCRIPTION,
    operation_class=openapi.INTAKE_OPERATION,
    operation_id=openapi.INTAKE_ID,
    security=[{"oauth2": ["dossiers:intake"]}],
    request_max_body_size=INTAKE_REQUEST_LIMIT,
    status_code=201,
    **_API_OPTS,
)
async def intake(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    db_session: NamedDependency[AsyncSession],
    storage: NamedDependency[Storage],
    settings: NamedDependency[Settings],
    signing: NamedDependency[Signing],
) -> Response[Any]:
    client = await authenticate(request, db_session)
    try:
        require_scope(client, "dossiers:intake")
        body, files = await _read_body(request)
        spec = parse_intake(body)
        if not isinstance(spec, IntakeRequest):
            raise ProblemError(422, errors=spec)
        existing = await _by_external_id(db_session, client.source_system, spec.external_id)
        if existing is not None:
            # A repeat: answered before any document is read or stored.
            _same_dossier(existing, spec)
            await db_session.execute(called(client, request, 200, dossier=existing.code))
            origin = await tenant_origin(db_session, settings, tenant)
            return Response(receipt(origin, existing), status_code=200, headers=_location(existing))
        procedure = await get_procedure(db_session, spec.procedure_code)
        if procedure is None:
            raise ProblemError(
                422, errors={"procedure_code": Message("Không có thủ tục đang công bố với mã này trên cổng.")}
            )
        checked = await _check_files(tenant, files)
        documents = [
            IntakeDocument(
                document_code=code,
                upload=upload,
                stored=await storage.put(tenant.schema, upload.data, media_type=upload.detected.media_type),
            )
            for code, upload in checked
        ]
        result = await receive_dossier(
            db_session,
            tenant,
            procedure=procedure,
            applicant=spec.applicant,
            data=spec.data,
            documents=documents,
            channel=Channel.NATIONAL_PORTAL,
            actor=client_actor(client, request),
            submitted_by_citizen=spec.submitted_by_citizen,
            source_system=client.source_system,
            external_id=spec.external_id,
            intake_client_id=client.id,
        )
        if isinstance(result, IntakeErrors):
            for doc in documents:
                await storage.delete(tenant.schema, doc.stored.key)
            raise ProblemError(422, errors=result.errors)
        # The slip's QR code and the receipt's tracking link name the tenant's public site: the
        # caller's host is a system's view of the portal (it may be another of the tenant's
        # domains), not the citizen's.
        origin = await tenant_origin(db_session, settings, tenant)
        if not result.created:
            # Lost a race with a parallel post of the same external id.
            for doc in documents:
                await storage.delete(tenant.schema, doc.stored.key)
            _same_dossier(result.dossier, spec)
        else:
            # The slip is issued now, as online and at the desk: signed and filed with the dossier
            # (queued if the signer fails; the dossier stands either way), as the job that signs it
            # later would. A repeat never gets here, and a filed slip is never signed twice.
            await issue_signed_slip(db_session, tenant, result.dossier, signing=signing, origin=origin)
        status = 201 if result.created else 200
        await db_session.execute(called(client, request, status, dossier=result.dossier.code))
        return Response(
            receipt(origin, result.dossier), status_code=status, headers=_location(result.dossier)
        )
    except ProblemError as exc:
        await audit_refused(db, tenant, client, request, exc.status)
        raise


def _location(dossier: Dossier) -> dict[str, str]:
    return {"Location": f"/api/v1/dossiers/{quote(dossier.code)}"}


# Reading ---------------------------------------------------------------------------------------------
@get(
    "/api/v1/dossiers/{code:str}",
    tags=["dossiers"],
    summary="A dossier's state and history",
    description=openapi.READ_DESCRIPTION,
    operation_class=openapi.READ_OPERATION,
    operation_id=openapi.READ_ID,
    security=[{"oauth2": ["dossiers:read"]}],
    **_API_OPTS,
)
async def read_dossier(
    request: HttpRequest,
    tenant: NamedDependency[Tenant],
    db: NamedDependency[Database],
    db_session: NamedDependency[AsyncSession],
    settings: NamedDependency[Settings],
    code: FromPath[str],
) -> Response[Any]:
    client = await authenticate(request, db_session)
    try:
        require_scope(client, "dossiers:read")
        dossier = await db_session.scalar(select(Dossier).where(Dossier.code == code[:80])) if code else None
        if dossier is None:
            raise ProblemError(404, detail=Message("Không có hồ sơ với mã này trên cổng."))
        history = await db_session.scalars(
            select(DossierHistory).where(DossierHistory.dossier_id == dossier.id).order_by(DossierHistory.id)
        )
        slip = await filed_slip(db_session, dossier.id)
        origin = await tenant_origin(db_session, settings, tenant)
        slip_url = verification_url(origin, slip.id) if slip else None
        await db_session.execute(called(client, request, 200, dossier=dossier.code))
        return Response(dossier_state(origin, dossier, list(history), slip_verification_url=slip_url))
    except ProblemError as exc:
        await audit_refused(db, tenant, client, request, exc.status)
        raise


def dossier_state(
    origin: str,
    dossier: Dossier,
    history: list[DossierHistory],
    *,
    slip_verification_url: str | None = None,
) -> dict[str, Any]:
    """State and dates only: who acted on it (officers' names, IDs) is never shown. The signed
    slip's verification page is the address its QR code holds (None until the slip is signed)."""
    channel = Channel(dossier.channel)
    return {
        **receipt(origin, dossier),
        "procedure_code": dossier.procedure_code,
        "procedure_name": dossier.procedure_name,
        "channel": CHANNEL_CODES[channel],
        "channel_label": channel.label,
        "submitted_by_citizen": dossier.submitted_by_citizen,
        "source_system": dossier.source_system,
        "external_id": dossier.external_id,
        "finished_at": _vietnam(dossier.finished_at) if dossier.finished_at else None,
        "slip_verification_url": slip_verification_url,
        "history": [
            {"at": _vietnam(h.at), "status": h.to_status, "status_label": DossierStatus(h.to_status).label}
            for h in history
        ],
    }


HANDLERS: list[HTTPRouteHandler] = [token_endpoint, intake, read_dossier]
