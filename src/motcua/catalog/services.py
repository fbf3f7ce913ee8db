"""Catalog reads (async, for pages and the API), search, and seeding (sync, for onboarding)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure, ProcedureForm
from motcua.catalog.schemas import ProcedureSpec, ProcedureSummary
from motcua.catalog.text import fold
from motcua.tenancy.services import schema_for

_SUMMARY_COLUMNS = (
    Procedure.code,
    Procedure.name,
    Procedure.field,
    Procedure.level,
    Procedure.processing_days,
    Procedure.fee_vnd,
    Procedure.processing_unit,
    Procedure.search_text,
)
_UPDATABLE = (
    "name",
    "field",
    "agency",
    "agency_code",
    "level",
    "processing_days",
    "processing_unit",
    "fee_vnd",
    "search_text",
    "form_fields",
    "description",
    "channels",
    "fees",
    "documents",
    "results",
    "legal_basis",
)


def upsert_procedures(conn: Connection, specs: Sequence[ProcedureSpec], *, publish_new: bool = True) -> int:
    """Insert or update procedures by code, publishing a new form version when the form changed.
    The caller's transaction has the tenant's search_path. An update keeps the procedure's
    publication state and templates; new ones are published when seeded from the tenant's file
    (``publish_new``), left for an administrator to publish when imported from /manage."""
    for spec in specs:
        row: dict[str, Any] = asdict(spec)
        row["search_text"] = fold(f"{spec.name} {spec.field} {spec.code} {spec.agency}")
        row["published"] = publish_new
        stmt = pg_insert(Procedure).values(row)
        procedure_id = conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[Procedure.code], set_={c: stmt.excluded[c] for c in _UPDATABLE}
            ).returning(Procedure.id)
        ).scalar_one()
        latest = conn.execute(
            select(ProcedureForm.version, ProcedureForm.definition)
            .where(ProcedureForm.procedure_id == procedure_id)
            .order_by(ProcedureForm.version.desc())
            .limit(1)
        ).one_or_none()
        if latest is None:
            conn.execute(
                insert(ProcedureForm).values(
                    procedure_id=procedure_id, version=1, definition=spec.form_fields
                )
            )
            conn.execute(update(Procedure).where(Procedure.id == procedure_id).values(form_version=1))
        elif latest.definition != spec.form_fields:
            conn.execute(
                insert(ProcedureForm).values(
                    procedure_id=procedure_id, version=latest.version + 1, definition=spec.form_fields
                )
            )
            conn.execute(
                update(Procedure).where(Procedure.id == procedure_id).values(form_version=latest.version + 1)
            )
    return len(specs)


async def list_procedures(session: AsyncSession) -> list[ProcedureSummary]:
    # Core select of columns, not ORM entities: this feeds the cached catalog.
    result = await session.execute(
        select(*_SUMMARY_COLUMNS).where(Procedure.published).order_by(Procedure.field, Procedure.name)
    )
    return [ProcedureSummary(*row) for row in result.all()]


async def get_procedure(session: AsyncSession, code: str, *, published_only: bool = True) -> Procedure | None:
    """A procedure by code; citizens' pages see only published ones."""
    query = select(Procedure).where(Procedure.code == code)
    if published_only:
        query = query.where(Procedure.published)
    result = await session.execute(query)
    return result.scalar_one_or_none()


async def count_procedures(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Procedure)) or 0)


# Search ----------------------------------------------------------------------------------------
PER_PAGE = 20


@dataclass(frozen=True)
class SearchResult:
    items: list[ProcedureSummary]
    total: int
    page: int
    per_page: int
    query: str
    field: str | None
    level: str | None

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def search(
    catalog: Sequence[ProcedureSummary],
    query: str | None,
    *,
    field: str | None = None,
    level: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> SearchResult:
    """Diacritic-insensitive search over the (cached) catalog: every word must appear; matches
    in the name rank above matches elsewhere, the whole phrase above scattered words.

    In memory on purpose: a tenant has at most a few thousand procedures, already cached per
    process, so this costs less than one database round trip."""
    folded = fold(query or "")
    terms = folded.split()
    field_key = fold(field) if field else None
    scored: list[tuple[int, ProcedureSummary]] = []
    for p in catalog:
        if level and p.level != level:
            continue
        if field_key and fold(p.field) != field_key:
            continue
        if not terms:
            scored.append((0, p))
            continue
        if not all(t in p.search_text for t in terms):
            continue
        name = fold(p.name)
        score = sum(10 for t in terms if t in name) + len(terms)
        if folded in name:
            score += 100 + (50 if name.startswith(folded) else 0)
        elif folded in p.search_text:
            score += 20
        if p.code == (query or "").strip():
            score += 1000
        scored.append((score, p))
    scored.sort(key=lambda sp: (-sp[0], fold(sp[1].name)))
    total = len(scored)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    start = (page - 1) * per_page
    return SearchResult(
        items=[p for _, p in scored[start : start + per_page]],
        total=total,
        page=page,
        per_page=per_page,
        query=query or "",
        field=field,
        level=level,
    )


def fields_of(catalog: Sequence[ProcedureSummary]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for p in catalog:
        counts[p.field] = counts.get(p.field, 0) + 1
    return sorted(counts.items(), key=lambda fc: fold(fc[0]))


class CatalogCache:
    """Per-process cache of each tenant's catalog: it changes rarely and every catalog page
    reads it. Subscribed to ``tenancy.events``: a tenant change in any process clears it, a
    catalogue change (``catalog_changed(slug)``) drops that tenant's entries; the TTL is the
    fallback when such a message is lost."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, list[ProcedureSummary]]] = {}
        self._details: dict[tuple[str, str], tuple[float, Procedure | None]] = {}

    def get(self, schema: str) -> list[ProcedureSummary] | None:
        entry = self._entries.get(schema)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, schema: str, procedures: list[ProcedureSummary]) -> None:
        self._entries[schema] = (time.monotonic() + self.ttl, procedures)

    def get_detail(self, schema: str, code: str) -> tuple[bool, Procedure | None]:
        entry = self._details.get((schema, code))
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def put_detail(self, schema: str, code: str, procedure: Procedure | None) -> None:
        if len(self._details) > 50_000:  # bounded: codes in URLs are user input
            self._details.clear()
        self._details[(schema, code)] = (time.monotonic() + self.ttl, procedure)

    def invalidate(self, schema: str | None = None) -> None:
        """Drop one tenant's entries, or all (called on any in-process tenant change)."""
        if schema is None:
            self._entries.clear()
            self._details.clear()
        else:
            self._entries.pop(schema, None)
            self._details = {k: v for k, v in self._details.items() if k[0] != schema}

    def catalog_changed(self, slug: str) -> None:
        """One tenant's catalogue changed: only its entries go, the other tenants' stay warm."""
        self.invalidate(schema_for(slug))
