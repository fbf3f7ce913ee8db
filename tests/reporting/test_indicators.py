"""Indicators from rollups, to the exact value: dossiers with known outcomes built through the
real actions (online and desk, on time and late, paid online and at the desk, rated, refused,
withdrawn), the rollup job run directly, then every indicator, the Decision 766 index, a month
boundary in Vietnam time, a month with no data, a published month frozen while the current one
moves, the trigger, the public API and the suppression of small counts."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from motcua.backoffice.services import officer_act
from motcua.catalog.services import get_procedure
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.settings import Settings
from motcua.core.tenant import Tenant
from motcua.dossiers.intake import Applicant, IntakeDocument, Received, receive_dossier
from motcua.dossiers.lifecycle import Action
from motcua.dossiers.models import Channel, Dossier
from motcua.dossiers.services import withdraw_dossier
from motcua.dossiers.storage import StoredObject
from motcua.dossiers.uploads import ValidatedUpload, sniff
from motcua.feedback.services import answer_feedback, rate_dossier, send_feedback
from motcua.payments.models import Payment
from motcua.payments.provider import ProviderStatus
from motcua.payments.services import record_counter_payment, settle_payment
from motcua.reporting.indicators import compute_indicators, public_view
from motcua.reporting.jobs import refresh
from motcua.reporting.periods import VIETNAM, Period
from motcua.reporting.publishing import PublishError, period_figures, publish_period
from tests.conftest import MakeTenant, asgi_transport, procedure

FEE = 10000
COPY = procedure(
    "2.000001",
    "Cấp bản sao trích lục hộ tịch",
    agency_code="000.00.01.T01",
    processing_days=1,
    fee_vnd=FEE,
    documents=[{"code": "don", "name": "Đơn đề nghị", "kind": "original", "copies": 1, "required": False}],
)
BUSINESS = procedure(
    "2.000002", "Đăng ký hộ kinh doanh", field="Kinh doanh", level="partial", processing_days=1
)
INFO = procedure("2.000003", "Tra cứu thông tin", field="Kinh doanh", level="information")
OFFICER = Actor.officer("001178006789")
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _scanned() -> IntakeDocument:
    detected = sniff(PDF)
    assert detected is not None
    digest = hashlib.sha256(PDF).hexdigest()
    return IntakeDocument(
        document_code="don",
        upload=ValidatedUpload(
            detected=detected, display_name="don.pdf", size=len(PDF), sha256=digest, data=PDF
        ),
        stored=StoredObject(
            key=f"test/{uuid.uuid4().hex}", size=len(PDF), sha256=digest, media_type="application/pdf"
        ),
        digitised=True,
    )


class Desk:
    def __init__(self, db: Database, tenant: Tenant) -> None:
        self.db, self.tenant, self.count = db, tenant, 0

    async def receive(
        self, code: str, channel: Channel, at: datetime, *, personally: bool = False, scanned: bool = False
    ) -> int:
        self.count += 1
        async with self.db.tenant_session(self.tenant) as session:
            proc = await get_procedure(session, code)
            assert proc is not None
            outcome = await receive_dossier(
                session,
                self.tenant,
                procedure=proc,
                applicant=Applicant(personal_id=f"0011900{self.count:05d}", full_name="Trần Văn Bình"),
                data={},
                documents=[_scanned()] if scanned else [],
                channel=channel,
                actor=Actor.operator("test"),
                submitted_by_citizen=personally,
                source_system="dvcqg" if channel == Channel.NATIONAL_PORTAL else None,
                external_id=f"HS-{self.count}" if channel == Channel.NATIONAL_PORTAL else None,
                now=at,
            )
            assert isinstance(outcome, Received), outcome
            return outcome.dossier.id

    async def act(self, dossier_id: int, *actions: Action, reason: str | None = None) -> None:
        for action in actions:
            async with self.db.tenant_session(self.tenant) as session:
                dossier = await session.get(Dossier, dossier_id)
                assert dossier is not None
                await officer_act(
                    session,
                    self.tenant,
                    dossier,
                    action,
                    actor=OFFICER,
                    version=dossier.version,
                    reason=reason,
                    data={},
                )

    async def finish(self, dossier_id: int, *, deliver: bool = False) -> None:
        await self.act(dossier_id, Action.ACCEPT, Action.START, Action.FINISH)
        if deliver:
            await self.act(dossier_id, Action.DELIVER)

    async def rate(self, dossier_id: int, score: int) -> None:
        async with self.db.tenant_session(self.tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            await rate_dossier(session, dossier, citizen_id=dossier.citizen_id, score=score)

    async def pay_online(self, dossier_id: int) -> None:
        async with self.db.tenant_session(self.tenant) as session:
            payment = Payment(
                dossier_id=dossier_id,
                provider="stripe",
                amount_vnd=FEE,
                status="started",
                account="acct_test",
            )
            session.add(payment)
            await session.flush()
            await settle_payment(
                session, self.tenant, payment, ProviderStatus("succeeded", FEE, "vnd", "pi_1")
            )

    async def pay_at_desk(self, dossier_id: int) -> None:
        async with self.db.tenant_session(self.tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            await record_counter_payment(session, self.tenant, dossier, actor=OFFICER, method="cash")

    async def feedback(self, dossier_id: int | None, *, answer: bool) -> None:
        async with self.db.tenant_session(self.tenant) as session:
            citizen_id = (await session.scalar(text("SELECT min(id) FROM citizens"))) or 0
            code = ""
            if dossier_id is not None:
                dossier = await session.get(Dossier, dossier_id)
                assert dossier is not None
                citizen_id, code = dossier.citizen_id, dossier.code
            sent = await send_feedback(
                session,
                self.tenant,
                citizen_id=citizen_id,
                subject="Góp ý",
                content="Nội dung",
                dossier_code=code,
            )
            if answer:
                await answer_feedback(session, sent.id, answer="Đã trả lời", actor=OFFICER)

    async def withdraw(self, dossier_id: int) -> None:
        async with self.db.tenant_session(self.tenant) as session:
            dossier = await session.get(Dossier, dossier_id)
            assert dossier is not None
            await withdraw_dossier(
                session, self.tenant, dossier, actor=Actor.citizen(dossier.citizen_id), reason="Không cần nữa"
            )


def _counts(figures: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, Any] = figures["total"]["counts"]
    return counts


def _ratio(figures: dict[str, Any], key: str) -> tuple[Any, Any, Any]:
    rate = figures["total"]["rates"][key]
    return rate["numerator"], rate["denominator"], rate["ratio"]


async def test_indicators_index_publication_and_the_public_api(
    make_tenant: MakeTenant, live_settings: Settings, engine: Engine, app: Litestar
) -> None:
    tenant = make_tenant(procedures=[COPY, BUSINESS, INFO])
    db = Database(live_settings.database_url or "", pool_size=2)
    desk = Desk(db, tenant)
    now = datetime.now(VIETNAM)
    month = Period.current_month(now)
    previous = month.previous()
    p_start = previous.start
    try:
        # Received last month. The first at 23:30 on its last day, Vietnam time: last month's.
        p1 = await desk.receive(
            "2.000001", Channel.ONLINE, previous.end - timedelta(minutes=30), personally=True
        )
        p2 = await desk.receive("2.000002", Channel.POSTAL, p_start + timedelta(hours=1))
        p3 = await desk.receive("2.000002", Channel.IN_PERSON, p_start + timedelta(hours=2))
        p4 = await desk.receive("2.000001", Channel.ONLINE, p_start + timedelta(hours=3), personally=True)
        # Received this month; m4 at 00:30 on the 1st, Vietnam time (still last month in UTC).
        # (Never before the month began nor after now, whenever the test runs.)
        m1 = await desk.receive(
            "2.000001",
            Channel.ONLINE,
            max(now - timedelta(minutes=1), month.start),
            personally=True,
            scanned=True,
        )
        m2 = await desk.receive("2.000001", Channel.NATIONAL_PORTAL, now)
        m3 = await desk.receive("2.000002", Channel.IN_PERSON, now)
        m4 = await desk.receive("2.000001", Channel.IN_PERSON, min(month.start + timedelta(minutes=30), now))
        assert p1 and m4

        await desk.finish(m1, deliver=True)  # on time: due tomorrow
        await desk.pay_online(m1)
        await desk.rate(m1, 5)
        await desk.finish(p2, deliver=True)  # late: due weeks ago
        await desk.rate(p2, 2)
        await desk.act(m2, Action.REFUSE, reason="Thiếu giấy tờ")
        await desk.act(m3, Action.ACCEPT)  # in process, not yet due
        await desk.act(p3, Action.ACCEPT)  # in process and overdue
        await desk.withdraw(p4)
        await desk.pay_at_desk(m4)
        await desk.feedback(m1, answer=True)
        await desk.feedback(None, answer=False)

        assert await refresh(tenant.slug, db=db) > 0
        async with db.tenant_session(tenant) as session:
            first = await compute_indicators(session, month)
        # Again: the days touched lately are recomputed (the overlap), to the same figures.
        assert await refresh(tenant.slug, db=db) > 0

        async with db.tenant_session(tenant) as session:
            current = await compute_indicators(session, month)
            last = await compute_indicators(session, previous)
            empty = await compute_indicators(session, Period.parse("2001-01"))
        for key in ("total", "by_field", "by_procedure", "by_channel", "index"):
            assert first[key] == current[key], key

        assert _counts(current) == {
            "received": 4,
            "received_online": 2,
            "online_by_citizen": 1,
            "finished": 2,
            "finished_on_time": 1,
            "finished_late": 1,
            "withdrawn": 1,
            "refused": 1,
            "with_fees": 3,
            "paid_online": 1,
            "digitised": 1,
            "ratings": 2,
            "rating_sum": 7,
            "rating_levels": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1},
            "feedback": 2,
            "feedback_on_time": 1,
        }
        assert _ratio(current, "full_online_rate") == (1, 2, 0.5)
        assert _ratio(current, "online_with_dossiers_rate") == (1, 2, 0.5)
        assert _ratio(current, "online_dossier_rate") == (2, 4, 0.5)
        assert _ratio(current, "online_by_citizen_share") == (1, 2, 0.5)
        assert _ratio(current, "on_time_rate") == (1, 2, 0.5)
        assert _ratio(current, "online_payment_rate") == (1, 3, 1 / 3)
        assert _ratio(current, "digitisation_rate") == (1, 4, 0.25)
        assert _ratio(current, "satisfied_rate") == (1, 2, 0.5)
        assert _ratio(current, "average_score") == (7, 2, 3.5)
        assert _ratio(current, "feedback_on_time_rate") == (1, 2, 0.5)
        assert current["in_process"] is not None
        assert (current["in_process"]["in_process"], current["in_process"]["overdue"]) == (2, 1)
        # Drill-down: by field and by channel add up to the total.
        fields = {row["field"]: row["counts"]["received"] for row in current["by_field"]}
        assert fields == {"Hộ tịch": 3, "Kinh doanh": 1, "Không gắn với thủ tục": 0}
        channels = {row["channel"]: row["counts"]["received"] for row in current["by_channel"]}
        assert channels == {0: 0, 1: 2, 2: 1, 3: 0, 4: 1}
        business = next(r for r in current["by_field"] if r["field"] == "Kinh doanh")
        assert business["rates"]["full_online_rate"] == {"numerator": 0, "denominator": 1, "ratio": 0.0}

        # The index, each criterion checkable by hand.
        index = current["index"]
        points = {c["indicator"]: c["points"] for g in index["groups"] for c in g["criteria"]}
        assert points == {
            "full_online_rate": 5.63,  # 50% < 80% → 50% ÷ 80% × 9
            "online_with_dossiers_rate": 9,
            "on_time_rate": 10,  # linear: 50% × 20
            "online_dossier_rate": 12,
            "online_payment_rate": 7.41,  # 33,33% ÷ 45% × 10
            "digitisation_rate": 6.88,  # 25% ÷ 80% × 22
            "satisfied_rate": 6.67,  # 50% ÷ 90% × 12
            "feedback_on_time_rate": 3,
        }
        assert [g["points"] for g in index["groups"]] == [14.63, 10, 12, 7.41, 6.88, 9.67]
        assert index["total"] == 60.59
        working = {c["indicator"]: c["working"] for g in index["groups"] for c in g["criteria"]}
        assert (
            working["online_payment_rate"] == "1 ÷ 3 = 33,33%; 33,33% < 45% → 33,33% ÷ 45% × 10 = 7,41 điểm"
        )
        assert working["online_dossier_rate"] == "2 ÷ 4 = 50%; 50% ≥ 50% → 12 điểm"

        # Last month, cut at midnight Vietnam time.
        assert {
            k: _counts(last)[k] for k in ("received", "received_online", "online_by_citizen", "with_fees")
        } == {
            "received": 4,
            "received_online": 2,
            "online_by_citizen": 2,
            "with_fees": 2,
        }
        assert _counts(last)["finished"] == 0 and last["in_process"] is None
        # A month with nothing: no data, no division by zero.
        assert _counts(empty)["received"] == 0
        assert _ratio(empty, "on_time_rate") == (0, 0, None)
        assert _ratio(empty, "online_dossier_rate") == (0, 0, None)
        no_data = next(
            c for g in empty["index"]["groups"] for c in g["criteria"] if c["indicator"] == "on_time_rate"
        )
        assert (no_data["points"], no_data["working"]) == (0, "0 ÷ 0: chưa có số liệu → 0 điểm")

        # Publishing: only a finished month, once; then frozen.
        async with db.tenant_session(tenant) as session:
            with pytest.raises(PublishError, match="chưa kết thúc"):
                await publish_period(session, tenant, month, actor=OFFICER, name="Nguyễn Văn An")
        async with db.tenant_session(tenant) as session:
            published = await publish_period(session, tenant, previous, actor=OFFICER, name="Nguyễn Văn An")
            assert published.published_by == "Nguyễn Văn An"
        async with db.tenant_session(tenant) as session:
            with pytest.raises(PublishError, match="đã được công bố"):
                await publish_period(session, tenant, previous, actor=OFFICER, name="Nguyễn Văn An")
        with engine.connect() as conn:
            audited = (
                conn.execute(
                    text(
                        f"SELECT detail->>'period' FROM {tenant.schema}.audit_log"
                        " WHERE action = 'reporting.period_published'"
                    )
                )
                .scalars()
                .all()
            )
            assert audited == [previous.key]
        for statement in (
            "UPDATE {}.reporting_published SET published_by = 'x'",
            "DELETE FROM {}.reporting_published",
        ):
            with engine.connect() as conn, pytest.raises(DBAPIError, match="frozen"):
                conn.execute(text(statement.format(tenant.schema)))

        # Later changes: a dossier of last month, feedback this month.
        await desk.receive("2.000002", Channel.IN_PERSON, p_start + timedelta(hours=5))
        await desk.feedback(None, answer=False)
        await refresh(tenant.slug, db=db)
        async with db.tenant_session(tenant) as session:
            frozen = await period_figures(session, previous)
            live_last = await compute_indicators(session, previous)
            moving = await period_figures(session, month)
        assert not frozen.provisional and _counts(frozen.figures)["received"] == 4
        assert _counts(live_last)["received"] == 5
        assert moving.provisional and _counts(moving.figures)["feedback"] == 3

        # The public API: the same numbers, with small counts suppressed.
        async with httpx.AsyncClient(
            transport=asgi_transport(app), base_url=f"http://{tenant.slug}.localhost"
        ) as http:
            answer = await http.get("/api/v1/statistics", params={"period": previous.key})
            assert answer.status_code == 200
            assert answer.headers["cache-control"] == "public, max-age=60"
            body = answer.json()
            assert body["provisional"] is False
            assert {k: v for k, v in body.items() if k not in ("provisional", "published_at")} == public_view(
                frozen.figures
            )
            live = (await http.get("/api/v1/statistics", params={"period": month.key})).json()
            async with db.tenant_session(tenant) as session:
                expected = public_view(await compute_indicators(session, month))
            assert live["provisional"] is True
            for key in ("total", "by_field", "by_procedure", "by_channel", "in_process", "index"):
                assert live[key] == expected[key], key
            bad = await http.get("/api/v1/statistics", params={"period": "2026-13"})
            assert bad.status_code == 422
            assert bad.headers["content-type"].startswith("application/problem+json")
            assert [e["field"] for e in bad.json()["errors"]] == ["period"]
    finally:
        await db.dispose()

    # Suppression: every count from 1 to 4 is null in the public view, and what would reveal it.
    view = public_view(current)
    shown = view["total"]["counts"]
    assert all(v is None or v == 0 or v >= 5 for k, v in shown.items() if k != "rating_levels")
    assert shown["received"] is None and shown["finished"] is None
    assert set(view["total"]["counts"]["rating_levels"].values()) <= {None, 0}
    assert view["total"]["rates"]["on_time_rate"] == {
        "numerator": None,
        "denominator": None,
        "ratio": None,
        "suppressed": True,
    }
    assert view["total"]["rates"]["full_online_rate"]["ratio"] == 0.5  # procedures are public
    assert view["in_process"] == {
        "in_process": None,
        "overdue": None,
        "as_of": current["in_process"]["as_of"],
    }
    assert "Nguyễn" not in str(view) and "Trần" not in str(view)


def test_periods_parse_in_vietnam_time() -> None:
    october = Period.parse("2026-10")
    assert (october.start.isoformat(), october.end.isoformat()) == (
        "2026-10-01T00:00:00+07:00",
        "2026-11-01T00:00:00+07:00",
    )
    assert Period.parse("2026-Q4").months() == [Period.parse(f"2026-{m}") for m in ("10", "11", "12")]
    assert Period.parse("2026").end_day.isoformat() == "2027-01-01"
    assert Period.month_of(datetime.fromisoformat("2026-10-31T17:30:00+00:00")).key == "2026-11"
    for wrong in ("2026-13", "2026-Q5", "26-10", "2026/10", "", "2026-10-01"):
        with pytest.raises(ValueError, match=r"Kỳ báo cáo|Tháng|Quý"):
            Period.parse(wrong)
