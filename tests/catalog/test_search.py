from __future__ import annotations

import httpx
import pytest

from motcua.catalog.schemas import ProcedureSummary
from motcua.catalog.services import search
from motcua.catalog.text import fold
from tests.conftest import MakeTenant, procedure

Client = httpx.AsyncClient


def _p(code: str, name: str, field: str = "Hộ tịch", level: str = "full") -> ProcedureSummary:
    return ProcedureSummary(code, name, field, level, 1, 0, "working_days", fold(f"{name} {field} {code}"))


CATALOG = [
    _p("1.001193", "Đăng ký khai sinh"),
    _p("1.000656", "Đăng ký khai tử"),
    _p("1.004884", "Đăng ký lại khai sinh"),
    _p("1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân"),
    _p("2.000488", "Cấp Phiếu lý lịch tư pháp", field="Lý lịch tư pháp"),
    _p("1.009993", "Cấp giấy phép xây dựng", field="Hoạt động xây dựng", level="partial"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Đăng ký khai sinh", "dang ky khai sinh"),
        ("ĐĂNG KÝ   Khai Tử", "dang ky khai tu"),
        ("Lý lịch tư pháp", "ly lich tu phap"),
        ("Xây dựng, đô thị", "xay dung, do thi"),
    ],
)
def test_fold_strips_diacritics_and_d_stroke(text: str, expected: str) -> None:
    assert fold(text) == expected


def test_search_without_diacritics_ranks_the_exact_name_first() -> None:
    result = search(CATALOG, "dang ky khai sinh")
    assert [p.code for p in result.items] == ["1.001193", "1.004884"]
    assert search(CATALOG, "khai sinh").items[0].code == "1.001193"
    assert search(CATALOG, "ĐĂNG KÝ KHAI SINH").items[0].code == "1.001193"
    assert search(CATALOG, "ly lich").items[0].code == "2.000488"
    assert search(CATALOG, "1.000656").items[0].code == "1.000656"
    assert search(CATALOG, "hộ chiếu").total == 0


def test_search_filters_and_pages() -> None:
    assert {p.code for p in search(CATALOG, None, field="Ly lich tu phap").items} == {"2.000488"}
    assert {p.code for p in search(CATALOG, "", level="partial").items} == {"1.009993"}
    first = search(CATALOG, None, per_page=4, page=1)
    second = search(CATALOG, None, per_page=4, page=2)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (6, 2, 4, 2)
    assert not {p.code for p in first.items} & {p.code for p in second.items}
    assert search(CATALOG, None, per_page=4, page=99).page == 2  # clamped, not an error


async def test_search_page_htmx_partial_and_api(client: Client, make_tenant: MakeTenant) -> None:
    tenant = make_tenant(
        procedures=[
            procedure("1.001193", "Đăng ký khai sinh", fee_vnd=0),
            procedure("2.000488", "Cấp Phiếu lý lịch tư pháp", field="Lý lịch tư pháp", fee_vnd=200000),
        ]
    )
    host = {"host": f"{tenant.slug}.localhost"}
    page = await client.get("/procedures", params={"q": "dang ky khai sinh"}, headers=host)
    assert page.status_code == 200
    assert "1 kết quả cho “dang ky khai sinh”" in page.text
    assert '<a href="/procedures/1.001193">Đăng ký khai sinh</a>' in page.text
    assert 'id="results"' in page.text
    partial = await client.get("/procedures", params={"q": "ly lich"}, headers={**host, "hx-request": "true"})
    assert "<html" not in partial.text
    assert "Cấp Phiếu lý lịch tư pháp" in partial.text

    api = await client.get("/api/v1/procedures", params={"q": "ly lich tu phap"}, headers=host)
    assert api.status_code == 200
    assert api.json() == {
        "items": [
            {
                "code": "2.000488",
                "name": "Cấp Phiếu lý lịch tư pháp",
                "field": "Lý lịch tư pháp",
                "level": "full",
                "level_label": "Toàn trình",
                "processing_time": {"amount": 0, "unit": "working_days"},
                "fee_vnd": 200000,
            }
        ],
        "page": 1,
        "per_page": 20,
        "total": 1,
    }
    other = make_tenant()
    elsewhere = await client.get("/api/v1/procedures", headers={"host": f"{other.slug}.localhost"})
    assert elsewhere.json()["total"] == 0
    schema = await client.get("/schema/openapi.json", headers=host)
    assert "/api/v1/procedures" in schema.json()["paths"]
