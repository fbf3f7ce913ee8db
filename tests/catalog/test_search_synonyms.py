"""Catalogue search forgives what people type: the words they use for a procedure (the synonyms
list, src/motcua/catalog/synonyms.toml) and one typo per word, without matching unrelated words;
the page shows what it searched for and a loading indicator while htmx fetches the results."""

from __future__ import annotations

import tomllib

import httpx
import pytest

from motcua.catalog.schemas import ProcedureSummary
from motcua.catalog.services import CatalogCache, SearchIndex, search
from motcua.catalog.text import SYNONYMS_FILE, fold, one_edit, with_synonyms
from tests.conftest import MakeTenant, procedure


def _p(code: str, name: str, field: str = "Hộ tịch") -> ProcedureSummary:
    return ProcedureSummary(code, name, field, "full", 1, 0, "working_days", fold(f"{name} {field} {code}"))


CATALOG = [
    _p("1.001193", "Đăng ký khai sinh"),
    _p("1.000656", "Đăng ký khai tử"),
    _p("1.000894", "Đăng ký kết hôn"),
    _p("1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân"),
    _p("2.000488", "Cấp Phiếu lý lịch tư pháp", field="Lý lịch tư pháp"),
    _p("1.009993", "Cấp giấy phép xây dựng", field="Hoạt động xây dựng"),
    _p("2.002163", "Cấp hộ chiếu phổ thông", field="Xuất nhập cảnh"),
    _p("1.003003", "Cấp Giấy chứng nhận quyền sử dụng đất", field="Đất đai"),
    _p("1.010001", "Cấp thẻ Căn cước", field="Căn cước"),
    _p("2.000815", "Chứng thực bản sao từ bản chính", field="Chứng thực"),
    _p("1.001612", "Đăng ký hộ kinh doanh", field="Thành lập và hoạt động của hộ kinh doanh"),
]


def _first(query: str) -> str | None:
    result = search(CATALOG, query)
    return result.items[0].name if result.items else None


@pytest.mark.parametrize(
    ("query", "found", "also"),
    [
        ("giấy xác nhận độc thân", "Cấp Giấy xác nhận tình trạng hôn nhân", "tình trạng hôn nhân"),
        ("giay xac nhan doc than", "Cấp Giấy xác nhận tình trạng hôn nhân", "tình trạng hôn nhân"),
        ("giấy khai sinh", "Đăng ký khai sinh", "khai sinh"),
        ("giấy chứng tử", "Đăng ký khai tử", "khai tử"),
        ("đám cưới", "Đăng ký kết hôn", "kết hôn"),
        ("hộ chiếu", "Cấp hộ chiếu phổ thông", "xuất nhập cảnh"),
        ("sổ đỏ", "Cấp Giấy chứng nhận quyền sử dụng đất", "quyền sử dụng đất"),
        ("SỔ HỒNG", "Cấp Giấy chứng nhận quyền sử dụng đất", "quyền sử dụng đất"),
        ("cccd", "Cấp thẻ Căn cước", "căn cước"),
        ("căn cước công dân", "Cấp thẻ Căn cước", "căn cước"),
        ("cmnd", "Cấp thẻ Căn cước", "căn cước"),
        ("công chứng", "Chứng thực bản sao từ bản chính", "chứng thực"),
        ("mở quán", "Đăng ký hộ kinh doanh", "hộ kinh doanh"),
        ("không tiền án", "Cấp Phiếu lý lịch tư pháp", "lý lịch tư pháp"),
    ],
)
def test_each_synonym_finds_the_procedure_by_its_legal_name(query: str, found: str, also: str) -> None:
    result = search(CATALOG, query)
    assert result.items and result.items[0].name == found
    assert also in result.also and result.corrected is None


def test_the_synonyms_list_is_well_formed_and_every_entry_finds_something() -> None:
    with SYNONYMS_FILE.open("rb") as f:
        table = tomllib.load(f)["synonyms"]
    assert len(table) >= 10
    for phrase, target in table.items():
        assert phrase and target and fold(phrase) != fold(target), phrase
        rewritten = with_synonyms(fold(phrase))
        assert rewritten is not None and rewritten[0] == fold(target), phrase
    # Whole words only: "cmnd" inside another word, or "do" of "sổ đỏ" alone, rewrites nothing.
    assert with_synonyms("xcmndx") is None
    assert with_synonyms("do") is None
    # Longest first: the long phrase wins, and its target is not rewritten again.
    assert with_synonyms(fold("Giấy xác nhận độc thân")) == ("tinh trang hon nhan", ["tình trạng hôn nhân"])


def test_a_synonym_only_adds_results() -> None:
    # "kết hôn" is both a name and a target: the query as typed still finds what it found.
    assert _first("kết hôn") == "Đăng ký kết hôn"
    plain = search(CATALOG, "hộ chiếu")
    assert [p.name for p in plain.items] == ["Cấp hộ chiếu phổ thông"]


@pytest.mark.parametrize(
    ("query", "found", "read_as"),
    [
        ("khai snh", "Đăng ký khai sinh", "khai sinh"),  # a letter missing
        ("dang ky kahi sinh", "Đăng ký khai sinh", "dang ky khai sinh"),  # two letters swapped
        ("khai sinhh", "Đăng ký khai sinh", "khai sinh"),  # a letter too many
        ("ly lich tu phab", "Cấp Phiếu lý lịch tư pháp", "ly lich tu phap"),  # a letter changed
        ("giấy phép xây dunh", "Cấp giấy phép xây dựng", "giay phep xay dung"),
        ("Đăng ký kết hôm", None, None),  # "hôm" and "hôn": too short to call it a typo
    ],
)
def test_one_typo_per_word_is_forgiven(query: str, found: str | None, read_as: str | None) -> None:
    result = search(CATALOG, query)
    assert (result.items[0].name if result.items else None) == found
    assert result.corrected == read_as


@pytest.mark.parametrize(
    "query", ["pizza", "bóng đá", "bánh mì", "xyz", "khai sinh pizza", "qqqq", "hộ chiếu ngoại giao"]
)
def test_unrelated_words_match_nothing(query: str) -> None:
    result = search(CATALOG, query)
    assert result.total == 0 and result.corrected is None and result.also == ()


def test_what_counts_as_one_typo() -> None:
    assert one_edit("snh", "sinh") and one_edit("kahi", "khai") and one_edit("hkai", "khai")
    assert one_edit("phab", "phap") and one_edit("sinhh", "sinh")
    assert not one_edit("sinh", "sinh")  # no typo
    assert not one_edit("bong", "dong")  # the first letter is kept
    assert not one_edit("inh", "sinh")  # not even by dropping it
    assert not one_edit("ho", "hon") and not one_edit("xa", "xay")  # too short to tell
    assert one_edit("khia", "khoa")  # one letter changed (not the first)
    assert one_edit("sihn", "sinh")  # swapped neighbours
    assert not one_edit("snhi", "sinh")  # two edits


def test_the_index_is_built_once_per_cached_catalogue() -> None:
    cache = CatalogCache(ttl=60)
    cache.put("t_x", CATALOG)
    index = cache.index_of("t_x", CATALOG)
    assert cache.index_of("t_x", CATALOG) is index
    assert index.near("snh") == ("sinh",)
    assert SearchIndex(CATALOG).near("kahi") == ("khai",)
    assert search(CATALOG, "khai snh", index=index).corrected == "khai sinh"
    reloaded = list(CATALOG)  # the catalogue changed: a new list, a new index
    assert cache.index_of("t_x", reloaded) is not index
    cache.invalidate("t_x")
    assert cache.index_of("t_x", reloaded) is not index


async def test_the_search_page_says_what_it_searched_and_has_a_loading_indicator(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    tenant = make_tenant(
        procedures=[
            procedure("1.001193", "Đăng ký khai sinh"),
            procedure("1.004873", "Cấp Giấy xác nhận tình trạng hôn nhân"),
        ]
    )
    host = {"host": f"{tenant.slug}.localhost"}
    page = await client.get("/procedures", params={"q": "giấy xác nhận độc thân"}, headers=host)
    assert page.status_code == 200
    assert '<a href="/procedures/1.004873">Cấp Giấy xác nhận tình trạng hôn nhân</a>' in page.text
    assert 'data-testid="search-also"' in page.text and "tình trạng hôn nhân" in page.text
    assert 'hx-indicator="#search-loading"' in page.text and 'id="search-loading"' in page.text
    assert "css/dossier.css" in page.text
    typo = await client.get("/procedures", params={"q": "khai snh"}, headers={**host, "hx-request": "true"})
    assert "<html" not in typo.text
    assert 'data-testid="search-corrected"' in typo.text and "“khai sinh”" in typo.text
    assert '<a href="/procedures/1.001193">Đăng ký khai sinh</a>' in typo.text
    api = await client.get("/api/v1/procedures", params={"q": "khai snh"}, headers=host)
    assert [item["code"] for item in api.json()["items"]] == ["1.001193"]
    nothing = await client.get("/procedures", params={"q": "pizza"}, headers=host)
    assert "Không tìm thấy thủ tục phù hợp" in nothing.text
