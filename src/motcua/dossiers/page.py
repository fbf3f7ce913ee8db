"""The citizen's dossier page, read by one function: everything ``dossiers/detail.html`` shows
comes in one ``DossierPage``, so the reads can change (fewer round trips) without touching the
template. The words themselves are ``dossiers.words``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import literal_column, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.tenant import Tenant
from motcua.dossiers.models import WITHDRAWABLE, Dossier, DossierFile
from motcua.dossiers.services import FeesPanel, files_of, history_of
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


async def names_of(session: AsyncSession, personal_ids: Collection[str]) -> dict[str, str]:
    """People's names by personal ID, from their latest login on this portal: one statement, none
    when there is nobody to name. (identity.services.staff_names also asks the platform's
    administrators, a second statement the citizen's page does not need.)"""
    if not personal_ids:
        return {}
    rows = await session.execute(
        select(Citizen.personal_id, Citizen.full_name)
        .where(Citizen.personal_id.in_(sorted(personal_ids)), Citizen.full_name != "")
        .order_by(Citizen.last_login_at)
    )
    return dict(rows.all())  # the latest login is read last and wins


async def names_and_unit(
    session: AsyncSession, personal_ids: Collection[str], unit_id: int | None
) -> tuple[dict[str, str], str | None]:
    """``names_of`` and ``unit_name`` in one statement (the dossier page's people and its
    receiving unit): none when there is nothing to read."""
    people = select(Citizen.personal_id, Citizen.full_name, Citizen.last_login_at).where(
        Citizen.personal_id.in_(sorted(personal_ids)), Citizen.full_name != ""
    )
    # The unit's row has no personal ID; people are ordered by login so the latest one wins.
    unit = select(null(), Unit.name, null()).where(Unit.id == unit_id)
    if not personal_ids and unit_id is None:
        return {}, None
    if not personal_ids:
        return {}, await unit_name(session, unit_id)
    if unit_id is None:
        return await names_of(session, personal_ids), None
    rows: list[Any] = list(
        (await session.execute(union_all(people, unit).order_by(literal_column("3").nulls_first()))).all()
    )
    names = {pid: name for pid, name, _ in rows if pid is not None}
    return names, next((name for pid, name, _ in rows if pid is None), None)


def _todo(dossier: Dossier, fees: Any) -> str | None:
    todo = todo_of(dossier.status)
    if todo is None and fees.fee_vnd and not fees.paid and fees.payable_online:
        return "pay"  # a fee may be paid online before it is asked for
    if todo == "pay" and fees.paid:
        return None
    return todo


async def dossier_page(
    session: AsyncSession, tenant: Tenant, fees: FeesPanel, dossier: Dossier, *, citizen_id: int
) -> DossierPage:
    """What the applicant (``citizen_id``, the reader) sees of their dossier. Statements: the
    files, the history, the fees panel's, and one for names when staff acted on it."""
    files = await files_of(session, dossier.id, applicant=True)  # no draft result
    history = await history_of(session, dossier.id)
    fee_state = await fees.fee_state(session, tenant, dossier)
    names, receiving_unit = await names_and_unit(
        session, personal_ids_in(history, dossier.assigned_to), dossier.receiving_unit_id
    )
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
        receiving_unit=receiving_unit,
    )


async def unit_name(session: AsyncSession, unit_id: int | None) -> str | None:
    """A unit's name, or None (no statement) when there is no unit."""
    if unit_id is None:
        return None
    return await session.scalar(select(Unit.name).where(Unit.id == unit_id))
