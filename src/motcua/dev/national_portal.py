"""A development stand-in for the national public-service portal (Cổng Dịch vụ công quốc gia):
the system that, since July 2025, receives citizens' dossiers and hands them to the province
that settles them.

It talks to the product only as a real national portal would: it holds an API client of each
demo tenant (registered by `motcua run` through the tenants' own client registration, its secret
kept in the data folder), gets tokens with the client-credentials grant, submits dossiers with
``POST /api/v1/dossiers``, and receives the dossiers' status changes as Standard Webhooks events,
whose signatures it verifies before keeping them. Its page is on the platform host
(http://localhost:8000/dev/national-portal). Mounted only when development services are on, which
production refuses."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Response

from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.pages import FormData, HttpRequest, page
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dev.people import DEV_USERS
from motcua.integrations.clients import ClientErrors, ClientSpec, register_client
from motcua.integrations.webhooks import create_subscription

SOURCE_SYSTEM = "dvcqg"
CLIENT_NAME = "Cổng Dịch vụ công quốc gia (môi trường phát triển)"
SCOPES = ("dossiers:intake", "dossiers:read", "webhooks")
EVENTS_PATH = "/dev/national-portal/events"
# Standard Webhooks: a message older (or newer) than this is refused as a replay.
TOLERANCE_SECONDS = 300
# A one-page PDF, attached for each document a submitted dossier needs.
SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the stand-in holds for one tenant: its API client and its webhook secret."""

    slug: str
    client_id: str
    client_secret: str
    webhook_secret: str


def _folder(settings: Settings) -> Path:
    folder = settings.data_dir / "national-portal"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def enrolments(settings: Settings) -> dict[str, Enrolment]:
    path = _folder(settings) / "clients.json"
    if not path.is_file():
        return {}
    return {slug: Enrolment(slug=slug, **data) for slug, data in json.loads(path.read_text()).items()}


def _save(settings: Settings, enrolled: dict[str, Enrolment]) -> None:
    path = _folder(settings) / "clients.json"
    data = {
        e.slug: {
            "client_id": e.client_id,
            "client_secret": e.client_secret,
            "webhook_secret": e.webhook_secret,
        }
        for e in enrolled.values()
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.chmod(0o600)  # client secrets
    tmp.replace(path)


async def enrol(db: Database, settings: Settings, tenant: Tenant, *, base_url: str) -> Enrolment:
    """Register the stand-in as an API client of ``tenant`` with a webhook subscription to its
    own receiver, as a tenant administrator would from /manage/integrations (once per tenant)."""
    enrolled = enrolments(settings)
    if tenant.slug in enrolled:
        return enrolled[tenant.slug]
    actor = Actor.operator("seed")
    async with db.tenant_session(tenant) as session:
        issued = await register_client(
            session, ClientSpec(name=CLIENT_NAME, source_system=SOURCE_SYSTEM, scopes=SCOPES), actor=actor
        )
        if isinstance(issued, ClientErrors):
            raise RuntimeError(f"the stand-in could not register with {tenant.slug}: {issued.errors}")
        created = await create_subscription(
            session,
            settings,
            client_id=issued.client.id,
            url=f"{base_url}{EVENTS_PATH}/{tenant.slug}",
            all_dossiers=False,
            actor=actor,
        )
    enrolment = Enrolment(
        slug=tenant.slug,
        client_id=issued.client.client_id,
        client_secret=issued.secret,
        webhook_secret=created.secret,
    )
    enrolled[tenant.slug] = enrolment
    _save(settings, enrolled)
    return enrolment


# Receiving events --------------------------------------------------------------------------------
def signature_valid(
    secret: str, msg_id: str, timestamp: str, body: bytes, header: str, *, now: float
) -> bool:
    """The Standard Webhooks check: ``v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`` among
    the header's space-separated signatures, with a fresh timestamp."""
    try:
        if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
            return False
        key = base64.b64decode(secret.removeprefix("whsec_"))
    except ValueError:
        return False
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    return any(
        version == "v1" and hmac.compare_digest(sig, expected)
        for version, _, sig in (part.partition(",") for part in header.split())
    )


def _append(settings: Settings, name: str, record: dict[str, Any]) -> None:
    with (_folder(settings) / name).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def _read(settings: Settings, name: str) -> list[dict[str, Any]]:
    path = _folder(settings) / name
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@post(f"{EVENTS_PATH}/{{slug:str}}", include_in_schema=False, status_code=204)
async def receive_event(
    request: HttpRequest, settings: NamedDependency[Settings], slug: FromPath[str]
) -> None:
    enrolment = enrolments(settings).get(slug)
    body = await request.body()
    headers = request.headers
    msg_id = headers.get("webhook-id", "")
    if enrolment is None or not signature_valid(
        enrolment.webhook_secret,
        msg_id,
        headers.get("webhook-timestamp", ""),
        body,
        headers.get("webhook-signature", ""),
        now=time.time(),
    ):
        _append(settings, "refused.jsonl", {"tenant": slug, "id": msg_id})
        raise UnsignedEventError()
    # A redelivered event has the same id: kept once.
    if any(e["id"] == msg_id for e in _read(settings, "events.jsonl")):
        return
    event = json.loads(body)
    _append(settings, "events.jsonl", {"tenant": slug, "id": msg_id, "verified": True, **event})


class UnsignedEventError(Exception):
    """An event whose signature does not verify: refused with 401, never kept."""


def _unsigned(_: HttpRequest, __: UnsignedEventError) -> Response[str]:
    return Response("signature not valid", status_code=401, media_type="text/plain")


# Submitting dossiers -----------------------------------------------------------------------------
async def submit(
    settings: Settings,
    enrolment: Enrolment,
    *,
    external_id: str,
    procedure_code: str,
    personal_id: str,
    full_name: str,
    data: dict[str, str],
    documents: list[str],
) -> dict[str, Any]:
    """Get a token and post the dossier, over HTTP to the tenant's host as any system would."""
    base = f"http://127.0.0.1:{settings.port}"
    host = {"host": f"{enrolment.slug}.{settings.platform_domain}:{settings.port}"}
    async with httpx.AsyncClient(base_url=base, headers=host, timeout=30) as http:
        token = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": " ".join(SCOPES)},
            auth=(enrolment.client_id, enrolment.client_secret),
        )
        token.raise_for_status()
        bearer = {"authorization": f"Bearer {token.json()['access_token']}"}
        dossier = {
            "external_id": external_id,
            "procedure_code": procedure_code,
            "applicant": {"personal_id": personal_id, "full_name": full_name},
            "data": data,
        }
        files = [(f"document:{code}", (f"{code}.pdf", SAMPLE_PDF, "application/pdf")) for code in documents]
        answer = await http.post(
            "/api/v1/dossiers",
            headers=bearer,
            data={"dossier": json.dumps(dossier, ensure_ascii=False)},
            files=files or None,
        )
    result: dict[str, Any] = {"status_code": answer.status_code, **answer.json()}
    _append(settings, "submitted.jsonl", {"tenant": enrolment.slug, "external_id": external_id, **result})
    return result


DEFAULT_DATA = '{"purpose": "Kết hôn", "marital_status": "Chưa kết hôn"}'


@get("/dev/national-portal", include_in_schema=False)
async def portal_page(request: HttpRequest, settings: NamedDependency[Settings]) -> Response[str]:
    events = _read(settings, "events.jsonl")
    submitted = _read(settings, "submitted.jsonl")
    return page(
        request,
        "web/dev_national_portal.html",
        enrolled=sorted(enrolments(settings)),
        people=[u for u in DEV_USERS if u.role_hint == "citizen"],
        submitted=list(reversed(submitted)),
        events=events,
        default_data=DEFAULT_DATA,
        result=request.query_params.get("result"),
    )


@get("/dev/national-portal/events.json", include_in_schema=False)
async def events_json(settings: NamedDependency[Settings]) -> dict[str, Any]:
    return {"events": _read(settings, "events.jsonl"), "refused": _read(settings, "refused.jsonl")}


@post("/dev/national-portal/submit", include_in_schema=False, status_code=303)
async def submit_form(
    settings: NamedDependency[Settings],
    data: Annotated[FormData, Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    enrolment = enrolments(settings).get(str(data.get("tenant") or ""))
    person = next((u for u in DEV_USERS if u.personal_id == data.get("personal_id")), None)
    try:
        answers = json.loads(str(data.get("data") or "{}"))
        if not isinstance(answers, dict):
            raise ValueError
    except ValueError:
        return Redirect("/dev/national-portal?result=bad-json", status_code=303)
    if enrolment is None or person is None:
        return Redirect("/dev/national-portal?result=unknown", status_code=303)
    external_id = str(data.get("external_id") or "") or f"DVCQG-{int(time.time() * 1000)}"
    documents = [d.strip() for d in str(data.get("documents") or "").split(",") if d.strip()]
    try:
        result = await submit(
            settings,
            enrolment,
            external_id=external_id[:128],
            procedure_code=str(data.get("procedure_code") or "")[:40],
            personal_id=person.personal_id,
            full_name=person.name,
            data={str(k): str(v) for k, v in answers.items()},
            documents=documents,
        )
    except (httpx.HTTPError, ValueError, KeyError):
        return Redirect("/dev/national-portal?result=unreachable", status_code=303)
    return Redirect(f"/dev/national-portal?result={result['status_code']}", status_code=303)


router = Router(
    path="/platform",
    route_handlers=[portal_page, events_json, submit_form, receive_event],
    exception_handlers={UnsignedEventError: _unsigned},
)


def enrol_demo_tenants(settings: Settings, slugs: list[str], *, base_url: str) -> list[str]:
    """For `motcua run`: enrol the stand-in with each demo tenant that is active (blocking)."""
    from motcua.core.jobs import load_tenant

    async def go() -> list[str]:
        db = Database(settings.database_url or "", pool_size=1)
        done = []
        try:
            for slug in slugs:
                tenant = await load_tenant(db, slug)
                if tenant.status == "active":
                    await enrol(db, settings, tenant, base_url=base_url)
                    done.append(slug)
        finally:
            await db.dispose()
        return done

    return asyncio.run(go())
