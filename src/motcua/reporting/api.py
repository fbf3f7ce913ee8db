"""``GET /api/v1/statistics`` on a tenant host: the public indicators and Decision 766 index of
a period, without a token, for the whole tenant or one receiving unit (``unit``). Small counts
are suppressed (indicators.public_view); a published period answers its frozen figures, any
other — and any unit's, which is computed from the dossiers as they are now — is marked
provisional."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)
from litestar.params import Parameter
from litestar.response import Response
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.dependencies import READ_ONLY
from motcua.core.messages import Message
from motcua.core.tenant import Tenant
from motcua.integrations.api import PROBLEMS
from motcua.integrations.auth import PROBLEM_MEDIA_TYPE, ProblemError
from motcua.integrations.openapi import documented
from motcua.organisation.models import Unit
from motcua.reporting.cache import FIGURES, freshness
from motcua.reporting.indicators import compute_indicators, public_view
from motcua.reporting.periods import VIETNAM, Period, PeriodError
from motcua.reporting.publishing import period_figures

STATISTICS_ID = "readStatistics"
PERIOD_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2]|Q[1-4]))?$"
# Public and the same for everyone: caches may keep it a minute (the rollups move every two).
CACHE_CONTROL = "public, max-age=60"

S = OpenAPIType
_NUMBER_OR_NULL = Schema(type=[S.NUMBER, S.NULL])
_RATE = Schema(
    type=S.OBJECT,
    required=["numerator", "denominator", "ratio"],
    properties={
        "numerator": Schema(type=[S.INTEGER, S.NULL], description="null: suppressed (under 5)."),
        "denominator": Schema(type=[S.INTEGER, S.NULL], description="null: suppressed (under 5)."),
        "ratio": Schema(
            type=[S.NUMBER, S.NULL], description="numerator ÷ denominator; null: no data or suppressed."
        ),
        "suppressed": Schema(type=S.BOOLEAN),
    },
)
_FIGURES: dict[str, Schema | Reference] = {
    "counts": Schema(
        type=S.OBJECT,
        description="Dossier counts (received, received_online, finished, …); null: from 1 to 4.",
    ),
    "rates": Schema(type=S.OBJECT, additional_properties=_RATE),
}
_STATISTICS = Schema(
    type=S.OBJECT,
    required=["period", "period_label", "provisional", "total", "index"],
    properties={
        "period": Schema(type=S.STRING, examples=["2026-10"]),
        "period_label": Schema(type=S.STRING, examples=["Tháng 10/2026"]),
        "provisional": Schema(
            type=S.BOOLEAN, description="true: live figures that may change; false: published, frozen."
        ),
        "published_at": Schema(type=[S.STRING, S.NULL], format="date-time"),  # type: ignore[arg-type]
        "start": Schema(type=S.STRING, format="date-time"),  # type: ignore[arg-type]
        "end": Schema(type=S.STRING, format="date-time"),  # type: ignore[arg-type]
        "total": Schema(type=S.OBJECT, required=["counts", "rates"], properties=_FIGURES),
        "by_field": Schema(type=S.ARRAY, items=Schema(type=S.OBJECT)),
        "by_procedure": Schema(type=S.ARRAY, items=Schema(type=S.OBJECT)),
        "by_channel": Schema(type=S.ARRAY, items=Schema(type=S.OBJECT)),
        "by_unit": Schema(
            type=S.ARRAY,
            items=Schema(type=S.OBJECT),
            description="By receiving unit (unit_id, name, agency_code, counts, rates).",
        ),
        "unit": Schema(
            type=[S.OBJECT, S.NULL], description="The receiving unit the figures are cut by, if any."
        ),
        "in_process": Schema(
            type=[S.OBJECT, S.NULL], description="Dossiers in process now (current period)."
        ),
        "index": Schema(
            type=S.OBJECT,
            required=["total", "max", "groups"],
            properties={
                "total": _NUMBER_OR_NULL,
                "max": Schema(type=S.INTEGER),
                "groups": Schema(type=S.ARRAY, items=Schema(type=S.OBJECT)),
            },
            description="Decision 766/QĐ-TTg: each group's points, each criterion with its working.",
        ),
        "suppression": Schema(type=S.STRING),
    },
)
# Answered as the integration API answers errors: problem+json (RFC 9457).
_OPTS: dict[str, Any] = {"exception_handlers": PROBLEMS, "opt": {"exclude_from_csrf": True, READ_ONLY: True}}
_PROBLEM = Reference(ref="#/components/schemas/Problem")
STATISTICS_OPERATION = documented(
    responses={
        "200": OpenAPIResponse(
            description="The period's indicators and index (public view).",
            headers={"Cache-Control": OpenAPIHeader(schema=Schema(type=S.STRING))},
            content={"application/json": OpenAPIMediaType(schema=_STATISTICS)},
        ),
        "400": OpenAPIResponse(
            description="The request could not be read (a NUL character).",
            content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=_PROBLEM)},
        ),
        "422": OpenAPIResponse(
            description=(
                "The period is not YYYY-MM, YYYY-Qn or YYYY, or the unit is not one of this "
                "portal's (named in `errors`)."
            ),
            content={PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=_PROBLEM)},
        ),
    }
)


@get(
    "/api/v1/statistics",
    tags=["statistics"],
    summary="Service-quality indicators of this portal for a period",
    description=(
        "Public, no token. The Decree 42/2022 indicators and the Decision 766/QĐ-TTg index for a "
        "month (YYYY-MM), quarter (YYYY-Qn) or year (YYYY) in Vietnam time; the current month when "
        "`period` is absent; with `unit`, those of the dossiers that receiving unit received. "
        "Counts from 1 to 4, and what would reveal them, are null."
    ),
    operation_class=STATISTICS_OPERATION,
    operation_id=STATISTICS_ID,
    security=[{}],
    **_OPTS,
)
async def statistics(
    tenant: NamedDependency[Tenant],
    db_session: NamedDependency[AsyncSession],
    period: Annotated[
        str | None,
        Parameter(
            description="YYYY-MM, YYYY-Qn or YYYY (Vietnam time); the current month if absent.",
            schema_extra={"pattern": PERIOD_PATTERN, "max_length": 7},
        ),
    ] = None,
    unit: Annotated[
        int | None,
        Parameter(
            description="A receiving unit's id (the `unit_id` of `by_unit`); the whole portal if absent.",
            ge=1,
            le=2**63 - 1,
        ),
    ] = None,
) -> Response[Any]:
    now = datetime.now(VIETNAM)
    try:
        chosen = Period.parse(period) if period else Period.current_month(now)
    except PeriodError as exc:
        raise ProblemError(422, errors={"period": str(exc)}) from None
    # Units are the tenant's own (its schema): another portal's unit is unknown here.
    if unit is not None and await db_session.get(Unit, unit) is None:
        raise ProblemError(
            422, errors={"unit": Message("Không có đơn vị này trong danh sách đơn vị của cổng.")}
        )
    marker = await freshness(db_session)
    key = ("api", tenant.schema, chosen.key, Period.current_month(now).key, unit)
    body = FIGURES.get(key, marker)
    if body is None:
        if unit is not None:
            body = {
                **public_view(await compute_indicators(db_session, chosen, now=now, unit_id=unit)),
                "provisional": True,
                "published_at": None,
            }
        else:
            found = await period_figures(db_session, chosen, now=now)
            body = {
                **public_view(found.figures),
                "provisional": found.provisional,
                "published_at": found.published_at.astimezone(VIETNAM).isoformat()
                if found.published_at
                else None,
            }
        FIGURES.put(key, marker, body)
    return Response(body, headers={"Cache-Control": CACHE_CONTROL})


HANDLERS: list[HTTPRouteHandler] = [statistics]
