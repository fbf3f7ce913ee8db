"""The daily rollups the indicators are read from, kept by ``refresh`` (the job in jobs.py).

What each counter of a (Vietnam-time day, procedure, channel, unit) row counts, and by which date:

* by the day the dossier was **received** (``received_at``): ``received``; ``received_online``
  (channels 2 online and 4 national portal); ``online_by_citizen`` (of those, submitted by the
  applicant personally, not by an officer or a system on their behalf); ``with_fees``
  (``fee_vnd`` > 0) and ``paid_online`` (of those, a succeeded online payment); ``digitised``
  (at least one document kept as a file: uploaded, or scanned at the desk — Decree 107/2021).
* by the day of the **outcome** in the dossier's history: ``finished`` (moved to "processed";
  the later delivery does not move it), split into ``finished_on_time`` and ``finished_late``;
  ``withdrawn``; ``refused`` at reception. On time means processed no later than the due date
  before any apology slip (Decision 766: a dossier that needed an apology slip was late), i.e.
  the first slip's ``previous_due_at``, else ``due_at`` (which supplement pauses push back).
* by the day a **rating** was given: ``ratings``, ``rating_sum``, ``rating_1`` … ``rating_5``.
* by the day **feedback** was received: ``feedback`` and ``feedback_on_time`` (answered by its
  due date); feedback about no dossier has procedure 0 and channel 0.

The unit is the dossier's **receiving unit** (the desk where it was received), which stays the
same for the dossier's whole life: a transfer moves the deciding unit, never the receiving one,
so a figure never moves from one unit to another after the fact. A dossier with no receiving unit
recorded, and feedback about no dossier, count for the root unit (the service centre, which
answers such feedback — docs/architecture.md, "Officers and their units"); unit 0 only in a
tenant that has no unit at all.

Idempotent and resumable: a run takes every change since the state's watermark (less an
overlap, for transactions that committed late), adds the days they touch to ``pending`` and
moves the watermark, in one transaction; then recomputes the pending days whole, a batch of days
per transaction, each removing its days from ``pending``. A run that dies leaves the rest pending
for the next one. Every write takes the tenant's reporting lock, so runs (and a publication)
never interleave on the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.reporting.models import COUNTERS
from motcua.reporting.periods import VIETNAM

BATCH_DAYS = 31
# A transaction that read now() before the watermark but committed after the last run is
# still seen: each run looks this far back before its watermark (recomputing a day is harmless).
OVERLAP = timedelta(minutes=10)
_TZ = "'Asia/Ho_Chi_Minh'"
_OUTCOMES = "('processed', 'refused', 'withdrawn')"


async def lock(session: AsyncSession) -> None:
    """The tenant's reporting lock, held to the end of the transaction (advisory locks are
    database-wide: the key names the schema)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/reporting'))"))


def _day(column: str) -> str:
    return f"({column} AT TIME ZONE {_TZ})::date"


# Days touched by what changed after :since (dossiers, their history, payments, files, ratings;
# feedback received or answered).
_CHANGED_DAYS = text(
    f"""
    WITH changed AS (
        SELECT id AS dossier_id FROM dossiers WHERE updated_at > :since
        UNION SELECT dossier_id FROM dossier_history WHERE at > :since
        UNION SELECT dossier_id FROM payments WHERE updated_at > :since
        UNION SELECT dossier_id FROM dossier_files WHERE created_at > :since AND dossier_id IS NOT NULL
        UNION SELECT dossier_id FROM ratings WHERE created_at > :since
    )
    SELECT {_day("d.received_at")} FROM dossiers d JOIN changed c ON c.dossier_id = d.id
    UNION SELECT {_day("h.at")} FROM dossier_history h JOIN changed c ON c.dossier_id = h.dossier_id
        WHERE h.to_status IN {_OUTCOMES}
    UNION SELECT {_day("r.created_at")} FROM ratings r JOIN changed c ON c.dossier_id = r.dossier_id
    UNION SELECT {_day("f.received_at")} FROM feedback f
        WHERE f.created_at > :since OR f.answered_at > :since
           OR f.dossier_id IN (SELECT dossier_id FROM changed)
    """
)

# Every day that has anything to count: the first run's work.
_ALL_DAYS = text(
    f"""
    SELECT {_day("received_at")} FROM dossiers
    UNION SELECT {_day("at")} FROM dossier_history WHERE to_status IN {_OUTCOMES}
    UNION SELECT {_day("created_at")} FROM ratings
    UNION SELECT {_day("received_at")} FROM feedback
    """
)


# The root unit (the service centre): computed once per statement (an uncorrelated subquery).
_ROOT_UNIT = "(SELECT u.id FROM units u WHERE u.parent_id IS NULL ORDER BY u.position, u.id LIMIT 1)"
# The unit a dossier's figures count for (``d`` may be NULL: feedback about no dossier).
_UNIT = f"COALESCE(d.receiving_unit_id, {_ROOT_UNIT}, 0)"


def _select(day: str, procedure: str, channel: str, **values: str) -> str:
    columns = ", ".join(f"{values.get(c, '0')} AS {c}" for c in COUNTERS)
    return (
        f"SELECT {day} AS day, {procedure} AS procedure_id, {channel} AS channel,"
        f" {_UNIT} AS unit_id, {columns}"
    )


_RECEIVED = _select(
    _day("d.received_at"),
    "d.procedure_id",
    "d.channel",
    received="1",
    received_online="(d.channel IN (2, 4))::int",
    online_by_citizen="(d.channel IN (2, 4) AND d.submitted_by_citizen)::int",
    with_fees="(d.fee_vnd > 0)::int",
    paid_online=(
        "(d.fee_vnd > 0 AND EXISTS (SELECT 1 FROM payments p WHERE p.dossier_id = d.id"
        " AND p.method = 'online' AND p.status = 'succeeded'))::int"
    ),
    digitised="(EXISTS (SELECT 1 FROM dossier_files f WHERE f.dossier_id = d.id))::int",
) + (
    " FROM dossiers d WHERE d.received_at >= :lo AND d.received_at < :hi"
    f" AND {_day('d.received_at')} = ANY(:days)"
)

_ON_TIME = (
    "h.at <= COALESCE((SELECT min(a.previous_due_at) FROM apology_slips a WHERE a.dossier_id = d.id),"
    " d.due_at)"
)
_OUTCOME = _select(
    _day("h.at"),
    "d.procedure_id",
    "d.channel",
    finished="(h.to_status = 'processed')::int",
    finished_on_time=f"(h.to_status = 'processed' AND {_ON_TIME})::int",
    finished_late=f"(h.to_status = 'processed' AND NOT ({_ON_TIME}))::int",
    withdrawn="(h.to_status = 'withdrawn')::int",
    refused="(h.to_status = 'refused')::int",
) + (
    " FROM dossier_history h JOIN dossiers d ON d.id = h.dossier_id"
    f" WHERE h.to_status IN {_OUTCOMES} AND h.from_status IS DISTINCT FROM h.to_status"
    f" AND h.at >= :lo AND h.at < :hi AND {_day('h.at')} = ANY(:days)"
)

_RATING = _select(
    _day("r.created_at"),
    "d.procedure_id",
    "d.channel",
    ratings="1",
    rating_sum="r.score",
    **{f"rating_{n}": f"(r.score = {n})::int" for n in range(1, 6)},
) + (
    " FROM ratings r JOIN dossiers d ON d.id = r.dossier_id"
    f" WHERE r.created_at >= :lo AND r.created_at < :hi AND {_day('r.created_at')} = ANY(:days)"
)

_FEEDBACK = _select(
    _day("f.received_at"),
    "COALESCE(d.procedure_id, 0)",
    "COALESCE(d.channel, 0)",
    feedback="1",
    feedback_on_time="(f.answered_at IS NOT NULL AND f.answered_at <= f.due_at)::int",
) + (
    " FROM feedback f LEFT JOIN dossiers d ON d.id = f.dossier_id"
    f" WHERE f.received_at >= :lo AND f.received_at < :hi AND {_day('f.received_at')} = ANY(:days)"
)

_RECOMPUTE = text(
    f"""
    INSERT INTO reporting_days (day, procedure_id, channel, unit_id, {", ".join(COUNTERS)}, computed_at)
    SELECT day, procedure_id, channel, unit_id, {", ".join(f"sum({c})" for c in COUNTERS)}, now()
    FROM ({_RECEIVED} UNION ALL {_OUTCOME} UNION ALL {_RATING} UNION ALL {_FEEDBACK}) AS facts
    GROUP BY day, procedure_id, channel, unit_id
    """
)

# DOMAIN: in process = accepted or in progress; overdue = past its due date (as the officers'
# "overdue" queue and the console count it).
_BACKLOG = text(
    f"""
    INSERT INTO reporting_backlog (procedure_id, channel, unit_id, in_process, overdue, computed_at)
    SELECT d.procedure_id, d.channel, {_UNIT}, count(*), count(*) FILTER (WHERE d.due_at < now()), now()
    FROM dossiers d WHERE d.status IN ('accepted', 'in_progress')
    GROUP BY 1, 2, 3
    """
)


async def recompute_days(session: AsyncSession, days: Iterable[date]) -> None:
    """Replace the rows of these days by what the dossiers say now (take ``lock`` first)."""
    chosen = sorted(set(days))
    if not chosen:
        return
    lo = datetime.combine(chosen[0], datetime.min.time(), tzinfo=VIETNAM)
    hi = datetime.combine(chosen[-1] + timedelta(days=1), datetime.min.time(), tzinfo=VIETNAM)
    await session.execute(text("DELETE FROM reporting_days WHERE day = ANY(:days)"), {"days": chosen})
    await session.execute(_RECOMPUTE, {"days": chosen, "lo": lo, "hi": hi})


async def recompute_backlog(session: AsyncSession) -> None:
    await session.execute(text("DELETE FROM reporting_backlog"))
    await session.execute(_BACKLOG)


async def mark_changes(session: AsyncSession) -> int:
    """Add the days changed since the watermark to ``pending`` and move the watermark to this
    transaction's start; returns how many days are pending."""
    await lock(session)
    state = (
        await session.execute(
            text("SELECT watermark, pending, now() AS now FROM reporting_state WHERE id = 1")
        )
    ).one()
    if state.watermark is None:
        changed = (await session.execute(_ALL_DAYS)).scalars().all()
    else:
        changed = (await session.execute(_CHANGED_DAYS, {"since": state.watermark - OVERLAP})).scalars().all()
    pending = sorted(set(state.pending) | {d for d in changed if d is not None})
    await session.execute(
        text("UPDATE reporting_state SET watermark = :now, pending = :pending WHERE id = 1"),
        {"now": state.now, "pending": pending},
    )
    return len(pending)


async def recompute_pending(session: AsyncSession, *, batch: int = BATCH_DAYS) -> int:
    """Recompute the first ``batch`` pending days and strike them off; returns how many."""
    await lock(session)
    pending: list[date] = (
        await session.execute(text("SELECT pending FROM reporting_state WHERE id = 1"))
    ).scalar_one()
    chosen = sorted(pending)[:batch]
    if not chosen:
        return 0
    await recompute_days(session, chosen)
    await session.execute(
        text("UPDATE reporting_state SET pending = :rest WHERE id = 1"),
        {"rest": sorted(set(pending) - set(chosen))},
    )
    return len(chosen)


async def finish_run(session: AsyncSession) -> None:
    await lock(session)
    await recompute_backlog(session)
    await session.execute(text("UPDATE reporting_state SET refreshed_at = now() WHERE id = 1"))


@dataclass(frozen=True, slots=True)
class RollupState:
    watermark: datetime | None
    pending: int
    refreshed_at: datetime | None


async def rollup_state(session: AsyncSession) -> RollupState:
    """How fresh the rollups are (pages say "số liệu cập nhật lúc …")."""
    row = (
        await session.execute(
            text(
                "SELECT watermark, cardinality(pending) AS pending, refreshed_at"
                " FROM reporting_state WHERE id = 1"
            )
        )
    ).one()
    return RollupState(row.watermark, int(row.pending), row.refreshed_at)
