"""The citizen's dossier page, read by one function: everything ``dossiers/detail.html`` shows
comes in one ``DossierPage``, so the reads can change without touching the template. The words
themselves are ``dossiers.words``.

Reads: one statement brings the dossier with its files, history, issued forms, receiving unit,
the names of the staff it mentions, payments and receipts (``core.nested``: each as one column
of the dossier's row). A second statement reads only the names of IDs written in old rows'
reasons, when there are any. One statement also means one snapshot: the page never shows a
payment without the history line that came with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import NullType

from motcua.core.nested import Nested
from motcua.core.tenant import Tenant
from motcua.dossiers.models import WITHDRAWABLE, Dossier, DossierFile, DossierHistory
from motcua.dossiers.paper_forms import FORM_KINDS
from motcua.dossiers.services import FeesPanel, names_of, released_to_applicant
from motcua.dossiers.words import (
    HistoryLine,
    Step,
    history_in_words,
    personal_ids_in,
    status_before_end,
    stepper,
    todo_of,
)
from motcua.identity.models import Citizen
from motcua.organisation.models import Unit
from motcua.signing.models import SignedDocument

RESULT_DOCUMENT = "ket-qua"  # the officer's result documents (backoffice: upload_result)
SUPPLEMENT_DOCUMENT = "bo-sung"


@dataclass(frozen=True)
class DossierPage:
    dossier: Dossier
    steps: list[Step]
    results: list[DossierFile]  # "Kết quả giải quyết", shown first
    documents: list[DossierFile]  # what the applicant sent (supplements included)
    supplement_files: list[DossierFile]  # sent in answer to the open supplement request
    history: list[HistoryLine]
    fees: Any  # the payments package's FeeState (dossiers.services.FeesPanel)
    officer_name: str | None  # "Cán bộ phụ trách", by name only
    withdrawable: bool
    # The applicant's next move: "supplement", "pay", "collect", or None (the office's turn).
    todo: str | None
    # "Nơi tiếp nhận": the unit that received it (organisation.routing), by name.
    receiving_unit: str | None = None
    # "Phiếu đã gửi cho bạn": the forms issued to the applicant (dossiers.paper_forms), oldest first.
    forms: tuple[SignedDocument, ...] = ()


# The applicant's files (no draft result: services.released_to_applicant), in the table's order.
_FILES = Nested(DossierFile, DossierFile.dossier_id == Dossier.id, released_to_applicant())
_HISTORY = Nested(DossierHistory, DossierHistory.dossier_id == Dossier.id, order_by=(DossierHistory.id,))
_FORMS = Nested(
    SignedDocument,
    SignedDocument.dossier_id == Dossier.id,
    SignedDocument.kind.in_(sorted(FORM_KINDS)),
    SignedDocument.citizen_visible,
    order_by=(SignedDocument.signed_at, SignedDocument.id),
)

# Who the page names: every history row's actor and the officer in charge, as (personal ID,
# name) pairs in order of login, so that the latest login's name wins (services.names_of's
# rule). The actors' IDs are read from the history inside the same statement; that inner
# select is tied to the page's dossier by hand, as SQLAlchemy ties a subquery to its immediate
# enclosing select only.
_ACTOR_IDS = (
    select(func.split_part(DossierHistory.actor, ":", 2))
    .where(DossierHistory.dossier_id == Dossier.id)
    .correlate(Dossier)
)
_NAMES: ColumnElement[Any] = type_coerce(
    select(
        func.array_agg(
            aggregate_order_by(func.row(Citizen.personal_id, Citizen.full_name), Citizen.last_login_at)
        )
    )
    .where(
        or_(Citizen.personal_id.in_(_ACTOR_IDS), Citizen.personal_id == Dossier.assigned_to),
        Citizen.full_name != "",
    )
    .correlate(Dossier)
    .scalar_subquery(),
    NullType(),
)


@lru_cache(maxsize=4)
def _page_statement(fee_reads: tuple[Nested[Any], ...]) -> Select[Any]:
    """Built once per fees panel (its columns come from payments), every value bound."""
    receiving_unit = select(Unit.name).where(Unit.id == Dossier.receiving_unit_id).scalar_subquery()
    return select(
        Dossier,
        _FILES.column,
        _HISTORY.column,
        _FORMS.column,
        receiving_unit,
        _NAMES,
        *(r.column for r in fee_reads),
    ).where(Dossier.code == bindparam("code"), Dossier.citizen_id == bindparam("citizen_id"))


def _todo(dossier: Dossier, fees: Any) -> str | None:
    todo = todo_of(dossier.status)
    if todo is None and fees.fee_vnd and not fees.paid and fees.payable_online:
        return "pay"  # a fee may be paid online before it is asked for
    if todo == "pay" and fees.paid:
        return None
    return todo


async def dossier_page(
    session: AsyncSession, tenant: Tenant, fees: FeesPanel, *, code: str, citizen_id: int
) -> DossierPage | None:
    """What the applicant (``citizen_id``, the reader) sees of their dossier ``code``; None when
    they have no dossier of that code."""
    reads = fees.page_reads
    row = (
        await session.execute(_page_statement(reads), {"code": code, "citizen_id": citizen_id})
    ).one_or_none()
    if row is None:
        return None
    dossier: Dossier = row[0]
    dialect = session.get_bind().dialect
    files = _FILES.unpack(dialect, row[1])
    history = _HISTORY.unpack(dialect, row[2])
    fee_state = fees.fee_state_from(tenant, dossier, dialect, row[6:])
    names = await _names(session, row[5], history, dossier.assigned_to)
    supplements = sorted(
        (f for f in files if f.document_code == SUPPLEMENT_DOCUMENT), key=lambda f: f.created_at
    )
    before = int((dossier.supplement or {}).get("files_before", 0))
    return DossierPage(
        dossier=dossier,
        steps=stepper(dossier.status, status_before_end(history)),
        # Final results only (signed, or the dossier processed): the files query leaves drafts out.
        results=sorted((f for f in files if f.document_code == RESULT_DOCUMENT), key=lambda f: f.created_at),
        documents=[f for f in files if f.document_code != RESULT_DOCUMENT],
        supplement_files=supplements[before:] if dossier.supplement else [],
        history=history_in_words(history, names, you=citizen_id),
        fees=fee_state,
        officer_name=names.get(dossier.assigned_to or ""),
        withdrawable=dossier.status in WITHDRAWABLE,
        todo=_todo(dossier, fee_state),
        receiving_unit=row[4],
        forms=tuple(_FORMS.unpack(dialect, row[3])),
    )


async def _names(
    session: AsyncSession,
    read: list[tuple[str, str]] | None,
    history: list[DossierHistory],
    assigned: str | None,
) -> dict[str, str]:
    """The names the page needs: those its statement read (actors and the officer in charge),
    and, in a second statement, those of IDs that only old rows' reasons hold."""
    names = dict(read or ())
    asked = {row.actor.partition(":")[2] for row in history}
    asked.add(assigned or "")
    missing = personal_ids_in(history, assigned) - asked
    if missing:
        names.update(await names_of(session, missing))
    return names


async def unit_name(session: AsyncSession, unit_id: int | None) -> str | None:
    """A unit's name, or None (no statement) when there is no unit."""
    if unit_id is None:
        return None
    return await session.scalar(select(Unit.name).where(Unit.id == unit_id))
