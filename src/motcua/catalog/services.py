"""Catalog reads (async, for pages) and seeding (sync, for onboarding)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.catalog.models import Procedure
from motcua.catalog.schemas import ProcedureSpec, ProcedureSummary
from motcua.catalog.text import fold

_SUMMARY_COLUMNS = (
    Procedure.code,
    Procedure.name,
    Procedure.field,
    Procedure.level,
    Procedure.processing_days,
    Procedure.fee_vnd,
)


def upsert_procedures(conn: Connection, specs: Sequence[ProcedureSpec]) -> int:
    """Insert or update procedures by code; the caller's transaction has the tenant's search_path."""
    if not specs:
        return 0
    rows: list[dict[str, Any]] = []
    for spec in specs:
        row = asdict(spec)
        row["search_text"] = fold(f"{spec.name} {spec.field} {spec.code}")
        rows.append(row)
    stmt = insert(Procedure).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Procedure.code],
        set_={
            c: stmt.excluded[c]
            for c in (
                "name",
                "field",
                "agency",
                "level",
                "processing_days",
                "fee_vnd",
                "search_text",
                "form_fields",
            )
        },
    )
    conn.execute(stmt)
    return len(rows)


async def list_procedures(session: AsyncSession) -> list[ProcedureSummary]:
    # Core select of columns, not ORM entities: this sits on the home page's hot path.
    result = await session.execute(select(*_SUMMARY_COLUMNS).order_by(Procedure.field, Procedure.name))
    return [ProcedureSummary(*row) for row in result.all()]


async def get_procedure(session: AsyncSession, code: str) -> Procedure | None:
    result = await session.execute(select(Procedure).where(Procedure.code == code))
    return result.scalar_one_or_none()


class CatalogCache:
    """Per-process cache of each tenant's procedure list: it changes rarely and the home page
    reads it on every hit. Entries expire after a short TTL; local writes call ``invalidate``."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, list[ProcedureSummary]]] = {}

    def get(self, schema: str) -> list[ProcedureSummary] | None:
        entry = self._entries.get(schema)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, schema: str, procedures: list[ProcedureSummary]) -> None:
        self._entries[schema] = (time.monotonic() + self.ttl, procedures)

    def invalidate(self, schema: str | None = None) -> None:
        """Drop one tenant's entry, or all (called on any in-process tenant change)."""
        if schema is None:
            self._entries.clear()
        else:
            self._entries.pop(schema, None)
