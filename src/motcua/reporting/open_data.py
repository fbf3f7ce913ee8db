"""Open data on every tenant host: the indicators as CSV and JSON — one row per period ×
indicator × field, plus a row for all fields together — for the published months (frozen) and
the current month (provisional), and a DCAT-AP catalogue (JSON-LD) describing them.

Aggregates only, from the public view (indicators.public_view): a count from 1 to 4, or a rate
that would reveal one, is an empty cell (null in JSON). No dossier, applicant or officer appears;
the only name is the tenant's, as publisher."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.response import Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from motcua.core.dependencies import READ_ONLY
from motcua.core.pages import HttpRequest, public_origin
from motcua.core.tenant import Tenant
from motcua.reporting.exports import CSV_MEDIA_TYPE, Column, to_csv
from motcua.reporting.indicators import SUPPRESSION_NOTE, compute_indicators, public_view
from motcua.reporting.models import PublishedPeriod
from motcua.reporting.periods import VIETNAM, Period
from motcua.reporting.rates import RATES

ALL_FIELDS = "Tất cả lĩnh vực"
INDEX_KEY = "decision766_index"
INDEX_NAME = "Chỉ số Quyết định 766/QĐ-TTg (điểm trên thang 100)"
# Public and the same for everyone; the provisional month moves with the rollups (every 2 minutes).
CACHE_CONTROL = "public, max-age=60"
JSON_LD_MEDIA_TYPE = "application/ld+json"
# PRODUCT DECISION: open data is published under Creative Commons Attribution 4.0 (reuse with
# attribution to the locality); to be confirmed by each locality's legal department.
LICENSE = "https://creativecommons.org/licenses/by/4.0/"
TITLE = {
    "vi": "Chỉ số chất lượng giải quyết thủ tục hành chính",
    "en": "Service-quality indicators of administrative procedures",
}
DESCRIPTION = {
    "vi": (
        "Các chỉ số theo Nghị định 42/2022/NĐ-CP và chỉ số Quyết định 766/QĐ-TTg của cổng dịch vụ "
        "công, theo tháng (giờ Việt Nam) và theo lĩnh vực: tử số, mẫu số và tỷ lệ. Gồm các tháng đã "
        "công bố (số liệu cố định) và tháng hiện tại (tạm tính). " + SUPPRESSION_NOTE
    ),
    "en": (
        "The Decree 42/2022 indicators and the Decision 766 index of this public-service portal, "
        "by month (Vietnam time) and by field: numerator, denominator and ratio. Published months "
        "(frozen) and the current month (provisional). Counts from 1 to 4, and the rates that "
        "would reveal them, are left empty (null) to protect personal data."
    ),
}

COLUMNS = (
    Column("period", "period"),
    Column("period_label", "period_label"),
    Column("provisional", "provisional"),
    Column("published_at", "published_at"),
    Column("field", "field"),
    Column("indicator", "indicator"),
    Column("indicator_name", "indicator_name"),
    Column("numerator", "numerator", "number"),
    Column("denominator", "denominator", "integer"),
    Column("ratio", "ratio", "number"),
    Column("suppressed", "suppressed"),
)


def _rows_of(
    view: dict[str, Any], period: Period, *, provisional: bool, published_at: datetime | None
) -> list[dict[str, Any]]:
    common = {
        "period": period.key,
        "period_label": period.label,
        "provisional": provisional,
        "published_at": published_at.astimezone(VIETNAM).isoformat() if published_at else None,
    }
    rows: list[dict[str, Any]] = []
    for field, figures in [(ALL_FIELDS, view["total"]), *((f["field"], f) for f in view["by_field"])]:
        for key, definition in RATES.items():
            rate = figures["rates"].get(key)
            if rate is None:
                continue
            rows.append(
                {
                    **common,
                    "field": field,
                    "indicator": key,
                    "indicator_name": definition.name,
                    "numerator": rate["numerator"],
                    "denominator": rate["denominator"],
                    "ratio": rate["ratio"],
                    "suppressed": bool(rate.get("suppressed")),
                }
            )
        if field == ALL_FIELDS:
            index = view["index"]
            total = index["total"]
            rows.append(
                {
                    **common,
                    "field": field,
                    "indicator": INDEX_KEY,
                    "indicator_name": INDEX_NAME,
                    "numerator": total,
                    "denominator": index["max"],
                    "ratio": None if total is None else round(total / index["max"], 6),
                    "suppressed": total is None,
                }
            )
    return rows


async def indicator_rows(session: AsyncSession, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every open-data row: the published months, latest first, after the current month."""
    now = now or datetime.now(VIETNAM)
    current = Period.current_month(now)
    rows = _rows_of(
        public_view(await compute_indicators(session, current, now=now)),
        current,
        provisional=True,
        published_at=None,
    )
    published = await session.execute(
        select(
            PublishedPeriod.period,
            PublishedPeriod.figures["total"],
            PublishedPeriod.figures["by_field"],
            PublishedPeriod.figures["index"],
            PublishedPeriod.published_at,
        )
        # Months only ("2026-10"); published quarters and years are on the page and the API.
        .where(func.length(PublishedPeriod.period) == 7, PublishedPeriod.period.not_like("%Q%"))
        .order_by(PublishedPeriod.period.desc())
    )
    for key, total, by_field, index, at in published:
        frozen = {
            "total": total,
            "by_field": by_field,
            "by_procedure": [],
            "by_channel": [],
            "in_process": None,
        }
        rows += _rows_of(
            public_view({**frozen, "index": index}), Period.parse(key), provisional=False, published_at=at
        )
    return rows


@get("/open-data/indicators.csv", include_in_schema=False, opt={READ_ONLY: True})
async def indicators_csv(
    db_session: NamedDependency[AsyncSession], tenant: NamedDependency[Tenant]
) -> Response[bytes]:
    body = to_csv(COLUMNS, await indicator_rows(db_session))
    return Response(
        body,
        media_type=CSV_MEDIA_TYPE,
        headers={
            "Cache-Control": CACHE_CONTROL,
            "Content-Disposition": f'attachment; filename="{tenant.slug}-chi-so.csv"',
        },
    )


@get("/open-data/indicators.json", include_in_schema=False, opt={READ_ONLY: True})
async def indicators_json(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], tenant: NamedDependency[Tenant]
) -> Response[bytes]:
    body = {
        "title": TITLE["vi"],
        "publisher": tenant.name,
        "license": LICENSE,
        "source": public_origin(request) + "/thong-ke",
        "generated_at": datetime.now(VIETNAM).isoformat(),
        "suppression": SUPPRESSION_NOTE,
        "columns": [c.key for c in COLUMNS],
        "rows": await indicator_rows(db_session),
    }
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        media_type="application/json",
        headers={"Cache-Control": CACHE_CONTROL},
    )


def _texts(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"@value": text, "@language": lang} for lang, text in values.items()]


@get("/open-data/catalog.jsonld", include_in_schema=False, opt={READ_ONLY: True})
async def catalog(
    request: HttpRequest, db_session: NamedDependency[AsyncSession], tenant: NamedDependency[Tenant]
) -> Response[bytes]:
    origin = public_origin(request)
    now = datetime.now(VIETNAM)
    current = Period.current_month(now)
    first_published = await first_published_month(db_session)
    start = min(first_published, current) if first_published else current
    publisher = {"@id": f"{origin}/#publisher", "@type": "foaf:Organization", "foaf:name": tenant.name}
    distributions = [
        {
            "@type": "dcat:Distribution",
            "dct:title": f"{TITLE['vi']} ({label})",
            "dcat:accessURL": {"@id": f"{origin}/open-data/{name}"},
            "dcat:downloadURL": {"@id": f"{origin}/open-data/{name}"},
            "dcat:mediaType": {"@id": f"https://www.iana.org/assignments/media-types/{media}"},
            "dct:format": label,
            "dct:license": {"@id": LICENSE},
        }
        for name, label, media in (
            ("indicators.csv", "CSV", "text/csv"),
            ("indicators.json", "JSON", "application/json"),
        )
    ]
    body = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": f"{origin}/open-data/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _texts({"vi": f"Dữ liệu mở — {tenant.name}", "en": f"Open data — {tenant.name}"}),
        "dct:description": _texts(
            {
                "vi": (
                    "Danh mục dữ liệu mở về chất lượng giải quyết thủ tục hành chính của cổng dịch vụ công."
                ),
                "en": "Open data on the service quality of this public-service portal.",
            }
        ),
        "dct:publisher": publisher,
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/VIE"},
        "foaf:homepage": {"@id": f"{origin}/thong-ke"},
        "dct:license": {"@id": LICENSE},
        "dcat:dataset": [
            {
                "@id": f"{origin}/open-data/indicators",
                "@type": "dcat:Dataset",
                "dct:identifier": f"{tenant.slug}-indicators",
                "dct:title": _texts(TITLE),
                "dct:description": _texts(DESCRIPTION),
                "dct:publisher": publisher,
                "dct:license": {"@id": LICENSE},
                "dct:accessRights": {
                    "@id": "http://publications.europa.eu/resource/authority/access-right/PUBLIC"
                },
                "dct:accrualPeriodicity": {
                    "@id": "http://publications.europa.eu/resource/authority/frequency/MONTHLY"
                },
                "dct:modified": {"@value": now.date().isoformat(), "@type": "xsd:date"},
                "dcat:keyword": ["thủ tục hành chính", "dịch vụ công", "Nghị định 42/2022", "Quyết định 766"],
                "dcat:landingPage": {"@id": f"{origin}/thong-ke"},
                "dcat:contactPoint": {
                    "@type": "vcard:Organization",
                    "vcard:fn": tenant.name,
                    "vcard:hasURL": {"@id": f"{origin}/"},
                },
                "dct:temporal": {
                    "@type": "dct:PeriodOfTime",
                    "dcat:startDate": {"@value": start.first_day.isoformat(), "@type": "xsd:date"},
                    "dcat:endDate": {"@value": current.last_day.isoformat(), "@type": "xsd:date"},
                },
                "dcat:distribution": distributions,
            }
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        media_type=JSON_LD_MEDIA_TYPE,
        headers={"Cache-Control": CACHE_CONTROL},
    )


async def first_published_month(session: AsyncSession) -> Period | None:
    """The earliest published month, where the open data's temporal coverage starts."""
    key = await session.scalar(
        select(func.min(PublishedPeriod.period)).where(
            func.length(PublishedPeriod.period) == 7, PublishedPeriod.period.not_like("%Q%")
        )
    )
    return Period.parse(key) if key else None


HANDLERS: list[HTTPRouteHandler] = [indicators_csv, indicators_json, catalog]
