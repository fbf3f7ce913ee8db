"""The indicators' count of dossiers by channel, and by whether the applicant submitted them
personally: dossiers of every channel, received inside and outside the period."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.deadlines import VIETNAM
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel
from motcua.dossiers.services import channel_counts
from tests.conftest import MakeTenant, procedure
from tests.dossiers.conftest import BIRTH, SignIn, csrf
from tests.dossiers.test_journey import _prepare

# A procedure with neither form fields nor documents, so the service can be called directly.
COPY = procedure("2.000001", "Cấp bản sao trích lục hộ tịch", agency_code="000.00.01.T01")


async def _receive(
    db: Database,
    tenant: Tenant,
    channel: Channel,
    *,
    personally: bool,
    at: datetime,
    external_id: str | None = None,
) -> None:
    async with db.tenant_session(tenant) as session:
        copy = await get_procedure(session, "2.000001")
        assert copy is not None
        outcome = await receive_dossier(
            session,
            tenant,
            procedure=copy,
            applicant=Applicant(personal_id="001190005678", full_name="Trần Văn Bình"),
            data={},
            documents=[],
            channel=channel,
            actor=Actor.operator("test"),
            submitted_by_citizen=personally,
            source_system="dvcqg" if external_id else None,
            external_id=external_id,
            now=at,
        )
        assert isinstance(outcome, Received), outcome


async def test_dossiers_are_counted_by_channel_and_by_who_submitted_them(
    sign_in: SignIn, make_tenant: MakeTenant, live_settings: Settings, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH, COPY])
    db = Database(live_settings.database_url or "", pool_size=2)
    now = datetime.now(VIETNAM)
    since, until = now - timedelta(days=1), now + timedelta(days=1)
    try:
        # Online, through the citizen's own form.
        citizen = await sign_in(tenant)
        token = await _prepare(citizen)
        form = await csrf(citizen, "/procedures/1.001193/apply/review")
        submitted = await citizen.post(
            "/procedures/1.001193/apply/submit",
            data={"_csrf_token": form, "token": token, "declaration": "yes"},
        )
        assert submitted.status_code == 303
        assert re.search(r"/my/dossiers/[^/]+/slip(\?|$)", submitted.headers["location"])

        await _receive(db, tenant, Channel.IN_PERSON, personally=False, at=now - timedelta(hours=2))
        await _receive(db, tenant, Channel.IN_PERSON, personally=False, at=since)  # the first instant counts
        await _receive(db, tenant, Channel.IN_PERSON, personally=True, at=now)
        await _receive(db, tenant, Channel.POSTAL, personally=False, at=now - timedelta(minutes=5))
        await _receive(db, tenant, Channel.NATIONAL_PORTAL, personally=True, at=now, external_id="HS-1")
        await _receive(db, tenant, Channel.NATIONAL_PORTAL, personally=False, at=now, external_id="HS-2")
        # Outside the period: before it, and at its (excluded) end.
        await _receive(db, tenant, Channel.POSTAL, personally=False, at=since - timedelta(seconds=1))
        await _receive(db, tenant, Channel.IN_PERSON, personally=False, at=until)
        await _receive(db, tenant, Channel.NATIONAL_PORTAL, personally=True, at=now - timedelta(days=40))

        async with db.tenant_session(tenant) as session:
            counts = await channel_counts(session, since, until)
            everything = await channel_counts(session, now - timedelta(days=400), now + timedelta(days=400))
            nothing = await channel_counts(session, now + timedelta(days=2), now + timedelta(days=3))
    finally:
        await db.dispose()

    expected = {(channel, personally): 0 for channel in Channel for personally in (True, False)}
    expected.update(
        {
            (Channel.ONLINE, True): 1,
            (Channel.IN_PERSON, False): 2,
            (Channel.IN_PERSON, True): 1,
            (Channel.POSTAL, False): 1,
            (Channel.NATIONAL_PORTAL, True): 1,
            (Channel.NATIONAL_PORTAL, False): 1,
        }
    )
    assert counts == expected
    assert sum(everything.values()) == 10
    assert set(nothing.values()) == {0} and len(nothing) == 8
    with engine.connect() as conn:
        assert conn.scalar(text(f"SELECT count(*) FROM {tenant.schema}.dossiers")) == 10
