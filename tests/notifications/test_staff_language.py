"""Staff e-mails in the staff member's language (issue 14): officers and tenant administrators log
in on the tenant's portal like anyone, so the UI language they last logged in with is kept on
their row (``citizens.preferred_language``); a deadline notice is written in it, Vietnamese
unless they chose another. End to end through the real worker and a real SMTP server."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from motcua.backoffice.services import tell_staff_of_deadline
from motcua.core.audit import Actor
from motcua.core.db import Database
from motcua.core.events import DeadlineEvent
from motcua.core.settings import Settings
from motcua.dossiers.lifecycle import Action, transition
from motcua.dossiers.models import Dossier
from motcua.identity.oidc import VerifiedIdentity
from motcua.identity.schemas import RoleGrantCreate
from motcua.identity.services import grant_role_sync, record_tenant_login
from motcua.notifications.jobs import staff_by_language
from tests.backoffice.test_workspace import _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, SignIn
from tests.notifications.test_delivery import Inbox, _mentions, _wait, _worker, inbox
from tests.notifications.test_languages import _subject

__all__ = ["inbox"]

ENGLISH_OFFICER = ("079085000777", "Anna Lê", "anna.officer@example.vn")
VIETNAMESE_ADMIN = ("079085000888", "Hoàng Văn Quản", "quan.admin@example.vn")


def test_addresses_are_grouped_by_language_and_vietnamese_by_default() -> None:
    event = DeadlineEvent(
        tenant="t",
        kind="overdue",
        key="k",
        code="C",
        procedure_name="P",
        status_label="Đang giải quyết",
        emails=("a@x.vn", "b@x.vn", "c@x.vn", "d@x.vn"),
        languages=("en", "vi", "xx"),  # d@: an event written before languages were carried
    )
    assert staff_by_language(event) == {"en": ["a@x.vn"], "vi": ["b@x.vn", "c@x.vn", "d@x.vn"]}
    restored = DeadlineEvent.from_payload(event.to_payload())
    assert restored.languages == ("en", "vi", "xx")


async def _logs_in(db: Database, tenant: object, who: tuple[str, str, str], language: str) -> None:
    personal_id, name, email = who
    async with db.tenant_session(tenant) as session:  # type: ignore[arg-type]
        await record_tenant_login(
            session,
            VerifiedIdentity(
                issuer="https://eid.test",
                subject=f"sub-{personal_id}",
                personal_id=personal_id,
                claims={"name": name, "email": email},
                id_token="",
                end_session_endpoint=None,
            ),
            language=language,
        )


async def test_an_english_officer_gets_the_deadline_notice_in_english(
    inbox: tuple[Inbox, int],
    sign_in: SignIn,
    make_tenant: MakeTenant,
    engine: Engine,
    live_settings: Settings,
) -> None:
    handler, port = inbox
    tenant = make_tenant(procedures=[BIRTH])
    _, code = await _submit(sign_in, tenant)
    grant_role_sync(
        engine, tenant, RoleGrantCreate.parse(ENGLISH_OFFICER[0], "officer"), actor=Actor.operator("test")
    )
    grant_role_sync(
        engine,
        tenant,
        RoleGrantCreate.parse(VIETNAMESE_ADMIN[0], "tenant_admin"),
        actor=Actor.operator("test"),
    )
    db = Database(live_settings.database_url or "", pool_size=1)
    worker = _worker(f"smtp://127.0.0.1:{port}")
    try:
        await _logs_in(db, tenant, ENGLISH_OFFICER, "en")
        await _logs_in(db, tenant, VIETNAMESE_ADMIN, "vi")
        async with db.tenant_session(tenant) as session:
            dossier = await session.scalar(select(Dossier).where(Dossier.code == code))
            assert dossier is not None
            await transition(
                session,
                dossier,
                Action.ACCEPT,
                actor=Actor.officer(ENGLISH_OFFICER[0]),
                values={"assigned_to": ENGLISH_OFFICER[0]},
            )
            # Late: the officer in charge and the tenant's administrators hear of it.
            await tell_staff_of_deadline(session, tenant, dossier.id, "overdue")

        # The staff's notices only: the applicant's own e-mails (and those of other tenants whose
        # first dossier of the day has the same code) reach the same mail catcher.
        staff = {ENGLISH_OFFICER[2], VIETNAMESE_ADMIN[2]}

        def mine() -> list[Any]:
            return [m for m in handler.messages if code in _subject(m) and str(m["To"]) in staff]

        assert _wait(lambda: len(mine()) == 2), [_subject(m) for m in handler.messages]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        await db.dispose()
    by_recipient = {str(m["To"]): m for m in mine()}
    english = by_recipient[ENGLISH_OFFICER[2]]
    vietnamese = by_recipient[VIETNAMESE_ADMIN[2]]
    assert _subject(english).startswith(f"Overdue: dossier {code} (due ")
    assert _mentions(english, "Dear officer,") and _mentions(english, '<html lang="en">')
    assert _subject(vietnamese).startswith(f"Quá hạn: hồ sơ {code} (hạn ")
    assert _mentions(vietnamese, "Kính gửi cán bộ xử lý hồ sơ,")
