"""What the webhook tests share: a real HTTP receiver on a free port, and dossiers, clients and
subscriptions made through the real services."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, text
from standardwebhooks.webhooks import Webhook

from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.lifecycle import Action
from motcua.dossiers.models import Channel
from motcua.integrations.clients import ClientSpec, Issued, register_client
from motcua.integrations.models import ApiClientRow
from motcua.integrations.webhooks import Created, create_subscription, record_status_changes

# A procedure a system can submit with no document and no required field.
SIMPLE = {
    "code": "2.000911",
    "name": "Cấp bản sao trích lục hộ tịch",
    "field": "Hộ tịch",
    "level": "full",
    "agency_code": "000.00.01.T01",
    "processing_days": 3,
    "fields": [{"name": "note", "label": "Ghi chú", "type": "text", "required": False}],
}
OFFICER = Actor.officer("079085000111")


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict[str, Any]:
        """The payload, once its Standard Webhooks signature is verified (raises otherwise)."""
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class Receiver:
    """A tiny threaded HTTP server; ``script[path]`` lists the statuses of its next answers
    (then 204). A 3xx answer points to ``/elsewhere``."""

    calls: list[Call] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                state.calls.append(Call(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                queued = state.script.get(self.path) or []
                status = queued.pop(0) if queued else 204
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"http://127.0.0.1:{state.port}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
async def db(live_settings: Settings) -> AsyncIterator[Database]:
    database = Database(live_settings.database_url or "", pool_size=4)
    yield database
    await database.dispose()


async def new_client(
    db: Database,
    tenant: Tenant,
    *,
    scopes: tuple[str, ...] = ("webhooks", "dossiers:intake"),
    source: str = "dvcqg",
) -> Issued:
    async with db.tenant_session(tenant) as session:
        issued = await register_client(
            session,
            ClientSpec(name=f"Hệ thống {source}", source_system=source, scopes=scopes),
            actor=Actor.operator("test"),
        )
    assert isinstance(issued, Issued), issued
    return issued


async def subscribe(
    db: Database,
    tenant: Tenant,
    settings: Settings,
    client: ApiClientRow,
    url: str,
    *,
    all_dossiers: bool = False,
) -> Created:
    async with db.tenant_session(tenant) as session:
        return await create_subscription(
            session,
            settings,
            client_id=client.id,
            url=url,
            all_dossiers=all_dossiers,
            actor=Actor.operator("test"),
        )


_external = iter(range(1, 10**9))


async def submit(db: Database, tenant: Tenant, client: ApiClientRow | None) -> str:
    """A dossier received from ``client``'s system (or at the desk, with None): its code."""
    async with db.tenant_session(tenant) as session:
        procedure = await get_procedure(session, str(SIMPLE["code"]))
        assert procedure is not None
        result = await receive_dossier(
            session,
            tenant,
            procedure=procedure,
            applicant=Applicant(personal_id="001190001234", full_name="Nguyễn Văn An"),
            data={"note": "Cần gấp"},
            documents=[],
            channel=Channel.NATIONAL_PORTAL if client else Channel.IN_PERSON,
            actor=Actor.operator("test"),
            source_system=client.source_system if client else None,
            external_id=f"ext-{next(_external)}" if client else None,
            intake_client_id=client.id if client else None,
        )
        assert isinstance(result, Received), result
        return result.dossier.code


async def act(db: Database, tenant: Tenant, code: str, action: Action, **data: str) -> None:
    """One officer action through the back office's own service."""
    from motcua.backoffice.services import dossier_by_code, officer_act

    async with db.tenant_session(tenant) as session:
        dossier = await dossier_by_code(session, code)
        assert dossier is not None
        await officer_act(
            session,
            tenant,
            dossier,
            action,
            actor=OFFICER,
            version=dossier.version,
            reason=data.pop("reason", None),
            data=data,
        )


async def fan_out(db: Database, tenant: Tenant, code: str) -> int:
    """What the DossierEvent subscriber does for the dossier (the worker is tested apart)."""
    async with db.tenant_session(tenant) as session:
        return await record_status_changes(session, tenant.slug, code)


def deliveries(engine: Engine, tenant: Tenant, subscription_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT id, event_id, status, attempts, last_status_code, last_error, payload "
                    f"FROM {tenant.schema}.webhook_deliveries WHERE subscription_id = :s ORDER BY id"
                ),
                {"s": subscription_id},
            ).all()
        )


def make_due(engine: Engine, tenant: Tenant, subscription_id: int) -> None:
    """Bring every waiting retry forward to now (instead of waiting out the backoff)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {tenant.schema}.webhook_deliveries "
                "SET next_attempt_at = now() - interval '1 second' "
                "WHERE subscription_id = :s AND status = 'pending'"
            ),
            {"s": subscription_id},
        )


def statuses(calls: list[Call], secret: str) -> list[str]:
    return [str(c.verified(secret)["data"]["status"]) for c in calls]


def body(call: Call) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(call.body)
    return parsed
