"""Receipts and feedback follow the officer unit rule (workflow.scope) as dossiers do.

One province with its service centre and two communes; a receipt for a dossier of each, and
feedback about each dossier and about none. An officer of one commune sees and answers only
what belongs to their commune's dossiers: another commune's receipt (page and PDF) answers 404
as for an unknown one, its feedback is not listed and cannot be answered (404, nothing written).
Feedback about no dossier is the service centre's (root-unit staff, and the tenant-wide officer
without unit roles). The citizen still sees their own receipt; another tenant's staff nothing."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine, select, text

from motcua.admin.services import build_spec, onboard_tenant
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.intake import Applicant, Received, receive_dossier
from motcua.dossiers.models import Channel
from motcua.feedback.services import send_feedback
from motcua.organisation.models import Unit
from motcua.organisation.services import add_staff, add_unit
from motcua.payments.services import record_counter_payment
from tests.admin.conftest import Browser, csrf_of, new_personal_id, signed_in
from tests.conftest import procedure, unique_slug

__all__ = ["signed_in"]

ADMIN = Actor.tenant_admin("001080000009")
OFFICER = Actor.officer("001178006789")
NAMES = {"a": "Lê Thị Tiếp", "b": "Võ Thị Bê", "centre": "Đặng Văn Tâm"}


@dataclass(frozen=True)
class Place:
    tenant: Tenant
    other: Tenant
    staff: dict[str, str]  # "a", "b" (commune reception), "centre" (root unit) → personal ID
    payers: dict[str, str]  # "a", "b", "root" → the applicant's personal ID
    receipts: dict[str, int]  # "a", "b", "root" → receipt id
    feedback: dict[str, int]  # "a", "b", "none" → feedback id


@pytest.fixture(scope="module")
async def place(engine: Engine, live_settings: Settings) -> Place:
    def onboard(name: str) -> Tenant:
        spec = build_spec(
            slug=unique_slug(),
            name=name,
            procedures=[
                procedure("2.000001", "Cấp bản sao trích lục hộ tịch", processing_days=5, fee_vnd=8000)
            ],
        )
        return onboard_tenant(engine, live_settings, spec, actor=Actor.operator("test"))

    tenant, other = onboard("Tỉnh thử biên lai theo đơn vị"), onboard("Tỉnh khác")
    staff = {key: new_personal_id() for key in NAMES}
    payers = {key: new_personal_id() for key in ("a", "b", "root")}
    db = Database(live_settings.database_url or "", pool_size=2)
    try:
        async with db.tenant_session(tenant) as session:
            root = (await session.execute(select(Unit).where(Unit.parent_id.is_(None)))).scalar_one()
            units: dict[str, int | None] = {"root": None}
            for key, name, agency in (
                ("a", "Xã Biên Lai A", "000.00.61.H96"),
                ("b", "Xã Biên Lai B", "000.00.62.H96"),
            ):
                unit = await add_unit(
                    session, parent_id=root.id, kind="commune", name=name, agency_code=agency, actor=ADMIN
                )
                units[key] = unit.id
                await add_staff(
                    session, unit, personal_id=staff[key], full_name=NAMES[key], role="reception", actor=ADMIN
                )
            await add_staff(
                session,
                root,
                personal_id=staff["centre"],
                full_name=NAMES["centre"],
                role="reception",
                actor=ADMIN,
            )
            proc = await get_procedure(session, "2.000001")
            assert proc is not None
            receipts, feedback = {}, {}
            for key in ("a", "b", "root"):
                outcome = await receive_dossier(
                    session,
                    tenant,
                    procedure=proc,
                    applicant=Applicant(personal_id=payers[key], full_name=f"Hoàng Văn Nộp {key}"),
                    data={},
                    documents=[],
                    channel=Channel.IN_PERSON,
                    actor=Actor.operator("test"),
                )
                assert isinstance(outcome, Received), outcome
                dossier = outcome.dossier
                # Routing stands in here: each dossier is put at the desk the story needs.
                dossier.receiving_unit_id, dossier.deciding_unit_id = units[key], units[key]
                await session.flush()  # before the payment reads the dossier again, locked
                receipt = await record_counter_payment(session, tenant, dossier, actor=OFFICER, method="cash")
                receipts[key] = receipt.id
                if key != "root":
                    sent = await send_feedback(
                        session,
                        tenant,
                        citizen_id=dossier.citizen_id,
                        subject=f"Góp ý về hồ sơ {key}",
                        content="Nội dung",
                        dossier_code=dossier.code,
                    )
                    feedback[key] = sent.id
                else:
                    sent = await send_feedback(
                        session,
                        tenant,
                        citizen_id=dossier.citizen_id,
                        subject="Góp ý chung",
                        content="Nội dung",
                    )
                    feedback["none"] = sent.id
    finally:
        await db.dispose()
    return Place(tenant, other, staff, payers, receipts, feedback)


async def _officer(signed_in: Browser, place: Place, who: str) -> httpx.AsyncClient:
    if who == "plain":  # the tenant-wide officer without a unit role: the service centre's
        return await signed_in(place.tenant, role="officer", name="Cán bộ chung")
    return await signed_in(place.tenant, role="officer", personal_id=place.staff[who], name=NAMES[who])


# Who sees which receipt and feedback: the commune's own, the service centre's own.
SEES = {
    "a": ({"a"}, {"a"}),
    "b": ({"b"}, {"b"}),
    "centre": ({"root"}, {"none"}),
    "plain": ({"root"}, {"none"}),
}


async def test_receipts_follow_the_officer_unit_rule(place: Place, signed_in: Browser) -> None:
    for who, (receipts, _feedback) in SEES.items():
        browser = await _officer(signed_in, place, who)
        for key, receipt_id in place.receipts.items():
            page = await browser.get(f"/receipts/{receipt_id}")
            pdf = await browser.get(f"/receipts/{receipt_id}/pdf")
            if key in receipts:
                assert page.status_code == 200, (who, key, page.status_code)
                assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF"), (who, key)
            else:
                # As for a receipt that does not exist.
                assert page.status_code == 404, (who, key, page.status_code)
                assert pdf.status_code == 404, (who, key, pdf.status_code)
                assert f"Hoàng Văn Nộp {key}" not in page.text
        unknown = await browser.get(f"/receipts/{max(place.receipts.values()) + 1000}")
        assert unknown.status_code == 404

    # The citizen sees their own receipt, not another's.
    payer = await signed_in(
        place.tenant, role="citizen", personal_id=place.payers["a"], name="Hoàng Văn Nộp a"
    )
    assert (await payer.get(f"/receipts/{place.receipts['a']}")).status_code == 200
    assert (await payer.get(f"/receipts/{place.receipts['a']}/pdf")).status_code == 200
    assert (await payer.get(f"/receipts/{place.receipts['b']}")).status_code == 404
    # Another tenant's officer: not on this portal.
    stranger = await signed_in(place.other, role="officer")
    host = f"http://{place.tenant.slug}.localhost"
    for receipt_id in place.receipts.values():
        answer = await stranger.get(f"{host}/receipts/{receipt_id}")
        assert answer.status_code in (303, 404), answer.status_code
        assert "Hoàng Văn Nộp" not in answer.text


def _listed(page: str, place: Place) -> set[str]:
    return {key for key, fid in place.feedback.items() if f'id="feedback-{fid}"' in page}


def _answered(engine: Engine, place: Place, key: str) -> object:
    with engine.connect() as conn:
        return conn.execute(
            text(f'SELECT answered_at FROM "{place.tenant.schema}".feedback WHERE id = :i'),
            {"i": place.feedback[key]},
        ).scalar_one()


async def test_feedback_follows_the_officer_unit_rule(
    place: Place, signed_in: Browser, engine: Engine
) -> None:
    for who, (_receipts, feedback) in SEES.items():
        browser = await _officer(signed_in, place, who)
        page = await browser.get("/officer/feedback")
        assert page.status_code == 200, page.text[:300]
        assert _listed(page.text, place) == feedback, who

    # Commune B's officer cannot answer commune A's feedback, nor the service centre's: 404 as
    # for feedback that does not exist, nothing written.
    b = await _officer(signed_in, place, "b")
    token = await csrf_of(b, "/feedback")
    for key in ("a", "none"):
        refused = await b.post(
            f"/officer/feedback/{place.feedback[key]}/answer",
            data={"_csrf_token": token, "answer": "Trả lời"},
        )
        assert refused.status_code == 404, (key, refused.status_code)
        assert _answered(engine, place, key) is None
    missing = await b.post(
        "/officer/feedback/999999999/answer", data={"_csrf_token": token, "answer": "Trả lời"}
    )
    assert missing.status_code == 404

    # Each answers their own.
    a = await _officer(signed_in, place, "a")
    token = await csrf_of(a, "/officer/feedback")
    done = await a.post(
        f"/officer/feedback/{place.feedback['a']}/answer", data={"_csrf_token": token, "answer": "Đã xử lý"}
    )
    assert done.status_code == 303, done.text[:300]
    assert _answered(engine, place, "a") is not None
    centre = await _officer(signed_in, place, "plain")
    token = await csrf_of(centre, "/officer/feedback")
    done = await centre.post(
        f"/officer/feedback/{place.feedback['none']}/answer",
        data={"_csrf_token": token, "answer": "Đã xử lý"},
    )
    assert done.status_code == 303
    assert _answered(engine, place, "none") is not None
    # A citizen is not an officer at all.
    citizen = await signed_in(place.tenant, role="citizen", personal_id=place.payers["b"])
    assert (await citizen.get("/officer/feedback")).status_code == 403
