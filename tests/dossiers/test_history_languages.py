"""The history reads in the reader's language (issue 14): what the product writes in it (the
amount due, a payment and its receipt, a refund, a new date) is kept as a message (t0020) and
read in Vietnamese or English; what a person typed (an officer's reason) is shown as typed and
marked Vietnamese; rows written before t0020 keep their text and are shown as they are."""

from __future__ import annotations

import re
from datetime import timedelta
from fractions import Fraction

from sqlalchemy import Engine, select

from motcua.backoffice.services import issue_apology, officer_act
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.messages import (
    Figure,
    InSentence,
    Message,
    Money,
    Term,
    message_from_json,
    message_to_json,
)
from motcua.core.theming import LANGUAGE_COOKIE, term_filter, translations
from motcua.dossiers.lifecycle import Action, record_event, transition
from motcua.dossiers.models import Dossier, DossierHistory
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync
from motcua.payments.models import Payment
from motcua.payments.refunds import request_refund
from motcua.payments.services import record_counter_payment
from tests.conftest import MakeTenant
from tests.dossiers import conftest as dossier_fixtures
from tests.dossiers.conftest import SignIn
from tests.dossiers.test_dossier_page import (
    CITIZEN_ID,
    CITIZEN_NAME,
    OFFICER,
    OFFICER_NAME,
    PROCEDURE,
    db,
    new_dossier,
    visible_text,
)

sign_in = dossier_fixtures.sign_in
__all__ = ["db", "sign_in"]

TYPED_APOLOGY = "Chờ kết quả xác minh của xã bạn"
TYPED_REFUND = "Thu thừa tiền sao y"
OLD_ROW = "Hoàn 1.000 đồng: ghi theo cách cũ"
# The counter receipt's series and number, digits as nines ("BL2026 số 0000001").
SERIES = "BL9999 số 9999999"
VIETNAMESE = re.compile(r"\w*[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]\w*", re.I)


def test_a_stored_message_reads_back_as_it_was_made() -> None:
    made = Message(
        "%(a)s %(b)s %(c)s %(d)s %(e)s",
        a=Money(1234567),
        b=Figure(Fraction(755, 1000), places=1, percent=True),
        c=Term("Được tiếp nhận"),
        d=InSentence("Họ tên"),
        e=7,
    )
    stored = message_to_json(made)
    back = message_from_json(stored)
    assert back == made == "1.234.567 đồng 75,5% Được tiếp nhận họ tên 7"
    assert (back.msgid, dict(back.params)) == (made.msgid, dict(made.params))
    english = translations("en")
    assert back.render(english.gettext, term_filter(english.gettext), "en").startswith(
        "1,234,567 dong 75.5% "
    )


def _history(html: str) -> str:
    found = re.search(r'<ol class="history"[^>]*>(.*?)</ol>', html, re.S)
    assert found is not None, html[:2000]
    return found.group(1)


# A part marked Vietnamese (what people typed), with the hidden separator some pages put in it.
MARKED = re.compile(r'<span class="history-note" lang="vi">(?:<span[^>]*>[^<]*</span>)?([^<]*)</span>')


def _outside_vietnamese_marks(html: str) -> str:
    """The history's text without the parts marked lang="vi"."""
    return visible_text(MARKED.sub(" ", html))


async def test_history_reads_in_the_readers_language_and_keeps_what_people_typed(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine, db: Database
) -> None:
    tenant = make_tenant(procedures=[PROCEDURE])
    citizen = await sign_in(tenant, name=CITIZEN_NAME, personal_id=CITIZEN_ID)
    grant_role_sync(engine, tenant, RoleGrantCreate.parse(OFFICER, "officer"), actor=Actor.operator("test"))
    officer = await sign_in(tenant, name=OFFICER_NAME, personal_id=OFFICER)
    code = await new_dossier(db, tenant)
    actor = Actor.officer(OFFICER)
    async with db.tenant_session(tenant) as session:
        dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
        assert dossier is not None
        await transition(session, dossier, Action.ACCEPT, actor=actor, values={"assigned_to": OFFICER})
        await officer_act(
            session,
            tenant,
            dossier,
            Action.REQUEST_PAYMENT,
            actor=actor,
            version=dossier.version,
            reason=None,
            data={"amount": "16.000"},
        )
        await record_counter_payment(session, tenant, dossier, actor=actor, method="cash")
        await session.refresh(dossier)
        await issue_apology(
            session,
            tenant,
            dossier,
            actor=actor,
            new_due=dossier.due_at + timedelta(days=3),
            reason=TYPED_APOLOGY,
            version=dossier.version,
        )
        # A row as the product wrote them before t0020: its text, nothing else.
        await record_event(session, dossier, actor=actor, reason=OLD_ROW)
        payment_id = await session.scalar(select(Payment.id).where(Payment.dossier_id == dossier.id))
        assert payment_id is not None
    await request_refund(db, None, tenant, payment_id, amount_vnd=6000, reason=TYPED_REFUND, actor=actor)

    async with db.tenant_session(tenant) as session:
        rows = list(await session.scalars(select(DossierHistory).order_by(DossierHistory.id)))
    # The product's words are messages; a person's words stay in ``reason``, theirs alone.
    kept = [(r.reason, str(message_from_json(r.message)) if r.message else None) for r in rows[2:]]
    assert [(reason, said and re.sub(r"\d", "9", said)) for reason, said in kept] == [
        (None, "Số tiền phải nộp: 99.999 đồng"),
        (None, "Số tiền 99.999 đồng (tiền mặt tại Bộ phận Một cửa); biên lai " + SERIES),
        (TYPED_APOLOGY, "Hẹn trả kết quả lại vào 99:99 99/99/9999"),
        (OLD_ROW, None),
        (TYPED_REFUND, "Số tiền hoàn: 9.999 đồng"),
    ]

    vietnamese = _history((await citizen.get(f"/my/dossiers/{code}")).text)
    assert "Số tiền phải nộp: 16.000 đồng" in visible_text(vietnamese)
    assert "Số tiền hoàn: 6.000 đồng" in visible_text(vietnamese)

    for browser, path in ((citizen, f"/my/dossiers/{code}"), (officer, f"/officer/dossiers/{code}")):
        browser.cookies.set(LANGUAGE_COOKIE, "en", domain=f"{tenant.slug}.localhost")
        page = await browser.get(path)
        assert page.status_code == 200, (path, page.status_code)
        english = _history(page.text)
        text = visible_text(english)
        assert "Amount to pay: 16,000 dong" in text, text
        assert "16,000 dong (cash at the one-stop desk); receipt " in text, text
        assert "Amount refunded: 6,000 dong" in text, text
        assert "New date for the result: " in text, text
        # What people typed, and the older row's text, as written and marked Vietnamese.
        marked = MARKED.findall(english)
        assert sorted(marked) == sorted([TYPED_APOLOGY, TYPED_REFUND, "1.000 đồng: ghi theo cách cũ"])
        # Nothing else in Vietnamese but people's names.
        rest = _outside_vietnamese_marks(english)
        for name in (CITIZEN_NAME, OFFICER_NAME):
            rest = rest.replace(name, " ")
        assert VIETNAMESE.findall(rest) == [], rest
