"""Live figures of every tenant for the console home: dossiers received this month, overdue now,
failed jobs in the last 24 hours and the last activity.

Reading them from a thousand tenant schemas on each page view would cost a query per tenant, so a
periodic per-tenant job keeps one row per tenant in ``platform.tenant_figures`` and the console
reads that table with one query. The job is idempotent (it recomputes, never increments)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import dramatiq
from sqlalchemy import func, or_, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from motcua.core.events import Subscriber
from motcua.core.jobs import tenant_job_session
from motcua.core.scheduler import PeriodicJob, register
from motcua.tenancy.models import Domain, TenantFigures, TenantRecord

REFRESH_FIGURES = Subscriber("refresh_tenant_figures", "reports")

# The same "overdue" as the officers' queue of that name (backoffice.services): late for the
# result while in process, or an online dossier neither accepted nor refused in time.
_TENANT_FIGURES = text(
    """
    SELECT
      (SELECT count(*) FROM dossiers
        WHERE received_at >= date_trunc('month', now() AT TIME ZONE 'Asia/Ho_Chi_Minh')
                             AT TIME ZONE 'Asia/Ho_Chi_Minh') AS dossiers_month,
      (SELECT count(*) FROM dossiers
        WHERE (status IN ('accepted', 'in_progress') AND due_at < now())
           OR (status = 'submitted' AND reception_due_at < now())) AS overdue_now,
      GREATEST(
        (SELECT max(at) FROM dossier_history),
        (SELECT max(at) FROM audit_log)
      ) AS last_activity_at,
      (SELECT count(*) FROM platform.audit_log
        WHERE action = 'job.failed' AND tenant_slug = :slug AND at > now() - interval '24 hours')
        AS failed_jobs_24h
    """
)


@dramatiq.actor(actor_name=REFRESH_FIGURES.actor_name, queue_name=REFRESH_FIGURES.queue_name, max_retries=0)
async def refresh_tenant_figures(tenant: str) -> None:
    await refresh_figures(tenant)


async def refresh_figures(tenant: str) -> None:
    """Recompute one tenant's row of ``platform.tenant_figures``."""
    async with tenant_job_session(tenant) as (record, session):
        row = (await session.execute(_TENANT_FIGURES, {"slug": tenant})).one()
        values: dict[str, Any] = {
            "dossiers_month": row.dossiers_month,
            "overdue_now": row.overdue_now,
            "failed_jobs_24h": row.failed_jobs_24h,
            "last_activity_at": row.last_activity_at,
            "refreshed_at": func.now(),
        }
        await session.execute(
            pg_insert(TenantFigures)
            .values(tenant_id=record.id, **values)
            .on_conflict_do_update(index_elements=[TenantFigures.tenant_id], set_=values)
        )


# A missed slot is no loss: the next one recomputes everything.
register(PeriodicJob("tenant-figures", 60, REFRESH_FIGURES.actor_name, per_tenant=True))


# The console home ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TenantRow:
    slug: str
    name: str
    kind: str
    status: str
    status_reason: str | None
    created_at: datetime
    schema_version: str | None
    domains: tuple[str, ...]
    dossiers_month: int | None
    overdue_now: int | None
    failed_jobs_24h: int | None
    last_activity_at: datetime | None


@dataclass(frozen=True, slots=True)
class TenantPage:
    rows: list[TenantRow]
    total: int  # matching the filters
    counts: dict[str, int]  # every tenant by status, whatever the filters


PAGE_SIZE = 100


async def console_listing(
    conn: AsyncConnection,
    *,
    query: str = "",
    status: str = "",
    kind: str = "",
    page: int = 1,
) -> TenantPage:
    """One page of tenants with their domains and figures: a single query for the rows (domains
    aggregated, figures joined) and one for the counts."""
    hosts = (
        select(func.array_agg(func.distinct(Domain.host)))
        .where(Domain.tenant_id == TenantRecord.id)
        .scalar_subquery()
        .label("hosts")
    )
    statement = (
        select(
            TenantRecord.slug,
            TenantRecord.name,
            TenantRecord.kind,
            TenantRecord.status,
            TenantRecord.status_reason,
            TenantRecord.created_at,
            TenantRecord.schema_version,
            hosts,
            TenantFigures.dossiers_month,
            TenantFigures.overdue_now,
            TenantFigures.failed_jobs_24h,
            TenantFigures.last_activity_at,
            func.count().over().label("total"),
        )
        .outerjoin(TenantFigures, TenantFigures.tenant_id == TenantRecord.id)
        .order_by(TenantRecord.name, TenantRecord.slug)
        .limit(PAGE_SIZE)
        .offset((max(page, 1) - 1) * PAGE_SIZE)
    )
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                TenantRecord.name.ilike(pattern),
                TenantRecord.slug.ilike(pattern),
                TenantRecord.id.in_(select(Domain.tenant_id).where(Domain.host.ilike(pattern))),
            )
        )
    if status:
        statement = statement.where(TenantRecord.status == status)
    if kind:
        statement = statement.where(TenantRecord.kind == kind)
    result = (await conn.execute(statement)).all()
    counts = dict(
        (await conn.execute(select(TenantRecord.status, func.count()).group_by(TenantRecord.status))).all()
    )
    rows = [
        TenantRow(
            slug=r.slug,
            name=r.name,
            kind=r.kind,
            status=r.status,
            status_reason=r.status_reason,
            created_at=r.created_at,
            schema_version=r.schema_version,
            domains=tuple(sorted(r.hosts or ())),
            dossiers_month=r.dossiers_month,
            overdue_now=r.overdue_now,
            failed_jobs_24h=r.failed_jobs_24h,
            last_activity_at=r.last_activity_at,
        )
        for r in result
    ]
    total = result[0].total if result else 0
    return TenantPage(rows=rows, total=total, counts={str(k): int(v) for k, v in counts.items()})
