"""The intake and read API: a dossier from another system through the national-portal channel,
idempotent on its external id (also in parallel), every invalid field named in a problem, the
read with its history, tenants kept apart, revoked clients stopped at once, and the audit rows."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from litestar import Litestar
from sqlalchemy import Engine, text

from motcua.core.tenant import Tenant
from motcua.dossiers.models import Channel
from tests.conftest import MakeTenant, asgi_transport
from tests.dossiers.conftest import BIRTH, PDF
from tests.integrations.conftest import Host, Register, token_of

GOOD_DATA = {
    "child_full_name": "Nguyễn Văn Bình",
    "child_birth_date": "2025-01-15",
    "mother_full_name": "Trần Thị Hoa",
    "mother_personal_id": "001190012345",
    "has_father": "Không",
}


def dossier(external_id: str = "EXT-1", **more: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "procedure_code": BIRTH["code"],
        "applicant": {"personal_id": "001190012345", "full_name": "Trần Thị Hoa", "phone": "0912345678"},
        "data": GOOD_DATA,
        **more,
    }


def multipart(body: dict[str, Any], files: dict[str, bytes]) -> list[tuple[str, Any]]:
    parts: list[tuple[str, Any]] = [("dossier", (None, json.dumps(body), "application/json"))]
    parts += [
        (f"document:{code}", (f"{code}.pdf", content, "application/pdf")) for code, content in files.items()
    ]
    return parts


def rows(engine: Engine, tenant: Tenant, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql.replace("T.", f'"{tenant.schema}".')), params).all())


async def authorised(
    host: Host, register: Register, tenant: Tenant, **kw: Any
) -> tuple[httpx.AsyncClient, dict[str, str]]:
    http = host(tenant)
    client = await register(tenant, **kw)
    return http, {"Authorization": f"Bearer {await token_of(http, client)}"}


async def test_a_dossier_with_documents_is_received_through_the_national_portal_channel(
    make_tenant: MakeTenant, register: Register, host: Host, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    http, auth = await authorised(host, register, tenant)
    created = await http.post(
        "/api/v1/dossiers", files=multipart(dossier("EXT-DOC"), {"to-khai": PDF}), headers=auth
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "submitted" and body["status_label"] == "Mới đăng ký"
    assert created.headers["location"] == f"/api/v1/dossiers/{body['code']}"
    assert body["tracking_url"].endswith(f"/tracking?code={body['code']}")
    [row] = rows(
        engine,
        tenant,
        "SELECT id, channel, submitted_by_citizen, source_system, external_id, intake_client_id"
        " FROM T.dossiers",
    )
    assert row.channel == Channel.NATIONAL_PORTAL and row.submitted_by_citizen is True
    assert (row.source_system, row.external_id) == ("dvcqg", "EXT-DOC") and row.intake_client_id
    [doc] = rows(
        engine,
        tenant,
        "SELECT document_code, media_type FROM T.dossier_files WHERE dossier_id = :d",
        d=row.id,
    )
    assert tuple(doc) == ("to-khai", "application/pdf")

    read = await http.get(
        body["location"] if "location" in body else created.headers["location"], headers=auth
    )
    assert read.status_code == 200, read.text
    state = read.json()
    assert state["code"] == body["code"] and state["channel"] == "national_portal"
    assert state["channel_label"] == Channel.NATIONAL_PORTAL.label
    assert [h["status"] for h in state["history"]] == ["submitted"]
    assert "actor" not in json.dumps(state["history"]) and "001190012345" not in read.text

    audit = rows(
        engine, tenant, "SELECT actor, detail FROM T.audit_log WHERE action = 'api.called' ORDER BY id"
    )
    assert [(r.detail["method"], r.detail["status"]) for r in audit] == [("POST", 201), ("GET", 200)]
    assert audit[0].actor.startswith("system:api-mc_") and audit[0].detail["path"] == "/api/v1/dossiers"


async def test_json_body_and_a_repeat_answer_the_same_dossier(
    make_tenant: MakeTenant, register: Register, host: Host, engine: Engine
) -> None:
    procedure = {**BIRTH, "documents": []}
    tenant = make_tenant(procedures=[procedure])
    http, auth = await authorised(host, register, tenant)
    first = await http.post(
        "/api/v1/dossiers", json=dossier("EXT-J", submitted_by_citizen=False), headers=auth
    )
    assert first.status_code == 201, first.text
    again = await http.post(
        "/api/v1/dossiers", json=dossier("EXT-J", submitted_by_citizen=False), headers=auth
    )
    assert again.status_code == 200 and again.json() == first.json()
    assert rows(engine, tenant, "SELECT submitted_by_citizen FROM T.dossiers")[0][0] is False
    other = {**dossier("EXT-J"), "applicant": {"personal_id": "001190054321", "full_name": "Lê Văn C"}}
    conflict = await http.post("/api/v1/dossiers", json=other, headers=auth)
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["field"] == "external_id"
    assert len(rows(engine, tenant, "SELECT id FROM T.dossiers")) == 1


async def test_the_same_external_id_posted_in_parallel_creates_one_dossier(
    make_tenant: MakeTenant, register: Register, host: Host, engine: Engine, live_settings: Any
) -> None:
    from motcua.app import create_app

    tenant = make_tenant(procedures=[{**BIRTH, "documents": []}])
    http, auth = await authorised(host, register, tenant)
    # Two app instances, each with its own connection pool: two real concurrent transactions.
    second: Litestar = create_app(live_settings)
    async with httpx.AsyncClient(transport=asgi_transport(second), base_url=str(http.base_url)) as other:
        answers = await asyncio.gather(
            *(
                c.post("/api/v1/dossiers", json=dossier("EXT-PAR"), headers=auth)
                for c in (http, other, http, other)
            )
        )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["code"] for a in answers}) == 1
    assert len(rows(engine, tenant, "SELECT id FROM T.dossiers WHERE external_id = 'EXT-PAR'")) == 1


async def test_each_invalid_field_is_named_and_nothing_is_created(
    make_tenant: MakeTenant, register: Register, host: Host, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    http, auth = await authorised(host, register, tenant)

    async def fields(response: httpx.Response, status: int) -> set[str]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == status and problem["type"].startswith("urn:motcua:problem:")
        return {e["field"] for e in problem.get("errors", [])}

    bad = {
        "external_id": "has spaces",
        "procedure_code": BIRTH["code"],
        "applicant": {"personal_id": "12345", "full_name": "", "email": "nope", "extra": 1},
        "data": {"child_full_name": 5, "unknown_field": "x"},
        "submitted_by_citizen": "yes",
        "surprise": True,
    }
    named = await fields(await http.post("/api/v1/dossiers", json=bad, headers=auth), 422)
    assert named == {
        "external_id",
        "applicant.personal_id",
        "applicant.full_name",
        "applicant.email",
        "applicant.extra",
        "data.child_full_name",
        "submitted_by_citizen",
        "surprise",
    }
    # Well-formed, but wrong for the procedure: checked against its current form.
    wrong = dossier("EXT-W", data={**GOOD_DATA, "child_birth_date": "not a date", "unknown_field": "x"})
    named = await fields(await http.post("/api/v1/dossiers", json=wrong, headers=auth), 422)
    assert {"data.child_birth_date", "data.unknown_field", "documents.to-khai"} <= named
    assert await fields(
        await http.post("/api/v1/dossiers", json=dossier(procedure_code="9.999999"), headers=auth), 422
    ) == {"procedure_code"}
    assert await fields(
        await http.post("/api/v1/dossiers", json={"external_id": "X"}, headers=auth), 422
    ) >= {"procedure_code", "applicant"}
    assert await fields(
        await http.post(
            "/api/v1/dossiers", content=b"{not json", headers={**auth, "content-type": "application/json"}
        ),
        400,
    ) == {"dossier"}
    assert await fields(await http.post("/api/v1/dossiers", json=[1, 2], headers=auth), 422) == {"dossier"}
    # Refused before the app reads it (a NUL character), still answered as a problem document.
    await fields(await http.post("/api/v1/dossiers", json={"external_id": "A\u0000"}, headers=auth), 400)
    await fields(await http.get("/api/v1/dossiers/X?q=%00", headers=auth), 400)
    await fields(
        await http.post("/api/v1/dossiers", content=b"a=b", headers={**auth, "content-type": "text/plain"}),
        415,
    )
    not_pdf = multipart(dossier("EXT-F"), {"to-khai": b"MZ\x90\x00 not a document" * 10})
    assert await fields(await http.post("/api/v1/dossiers", files=not_pdf, headers=auth), 422) == {
        "documents.to-khai"
    }
    no_dossier = [("document:to-khai", ("a.pdf", PDF, "application/pdf"))]
    assert await fields(await http.post("/api/v1/dossiers", files=no_dossier, headers=auth), 422) == {
        "dossier"
    }
    assert rows(engine, tenant, "SELECT id FROM T.dossiers") == []
    refused = rows(engine, tenant, "SELECT detail FROM T.audit_log WHERE action = 'api.called'")
    assert {r.detail["status"] for r in refused} == {400, 415, 422}


async def test_a_document_over_the_tenants_limit_is_413(
    make_tenant: MakeTenant, register: Register, host: Host, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    http, auth = await authorised(host, register, tenant)
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024) + b"\n%%EOF\n"
    response = await http.post(
        "/api/v1/dossiers", files=multipart(dossier("EXT-BIG"), {"to-khai": big}), headers=auth
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "documents.to-khai"
    assert rows(engine, tenant, "SELECT id FROM T.dossiers") == []


async def test_scopes_tenants_and_revocation_guard_intake_and_read(
    make_tenant: MakeTenant, register: Register, host: Host, engine: Engine, api_db: Any
) -> None:
    from motcua.core.audit import Actor
    from motcua.integrations.clients import client_by_id, revoke_client

    hanoi = make_tenant(procedures=[{**BIRTH, "documents": []}])
    danang = make_tenant(procedures=[{**BIRTH, "documents": []}])
    http, auth = await authorised(host, register, hanoi)
    created = await http.post("/api/v1/dossiers", json=dossier("EXT-T"), headers=auth)
    code = created.json()["code"]
    # Hà Nội's token on Đà Nẵng: nothing read, nothing created.
    on_danang = host(danang)
    assert (await on_danang.get(f"/api/v1/dossiers/{code}", headers=auth)).status_code == 401
    assert (await on_danang.post("/api/v1/dossiers", json=dossier("EXT-T2"), headers=auth)).status_code == 401
    assert rows(engine, danang, "SELECT id FROM T.dossiers") == []
    # Đà Nẵng's own client cannot see Hà Nội's dossier either.
    _, danang_auth = await authorised(host, register, danang)
    assert (await on_danang.get(f"/api/v1/dossiers/{code}", headers=danang_auth)).status_code == 404
    # A read-only client cannot submit.
    _, read_only = await authorised(host, register, hanoi, scopes=("dossiers:read",), source_system="other")
    forbidden = await http.post("/api/v1/dossiers", json=dossier("EXT-R"), headers=read_only)
    assert forbidden.status_code == 403
    assert (await http.get(f"/api/v1/dossiers/{code}", headers=read_only)).status_code == 200

    intake_row = rows(engine, hanoi, "SELECT client_id FROM T.api_clients WHERE source_system = 'dvcqg'")[0]
    async with api_db.tenant_session(hanoi) as session:
        row = await client_by_id(session, intake_row.client_id)
        assert row is not None
        await revoke_client(session, row, actor=Actor.tenant_admin("001090000001"))
    revoked = await http.get(f"/api/v1/dossiers/{code}", headers=auth)
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["www-authenticate"]
    assert (await http.post("/api/v1/dossiers", json=dossier("EXT-T3"), headers=auth)).status_code == 401
    assert len(rows(engine, hanoi, "SELECT id FROM T.dossiers")) == 1


async def test_the_openapi_document_validates_and_describes_the_api(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    from openapi_spec_validator import validate

    tenant = make_tenant()
    spec = (await client.get(f"http://{tenant.slug}.localhost/schema/openapi.json")).json()
    validate(spec)
    schemes = spec["components"]["securitySchemes"]
    flow = schemes["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token" and set(flow["scopes"]) == {
        "dossiers:intake",
        "dossiers:read",
        "catalog:read",
        "webhooks",
    }
    intake = spec["paths"]["/api/v1/dossiers"]["post"]
    assert intake["security"] == [{"oauth2": ["dossiers:intake"]}]
    assert set(intake["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"201", "200", "401", "403", "409", "413", "415", "422"} <= set(intake["responses"])
    assert "application/problem+json" in intake["responses"]["422"]["content"]
    assert spec["paths"]["/api/v1/dossiers/{code}"]["get"]["security"] == [{"oauth2": ["dossiers:read"]}]
    assert "/oauth/token" in spec["paths"]
