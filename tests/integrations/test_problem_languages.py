"""Problem details in the caller's language (issue 14): a system that sends Accept-Language: en
reads the title, the detail and every field's message in English; without it (or asking for a
language the portal does not speak) in Vietnamese. Types, statuses and field names never change."""

from __future__ import annotations

import re

import httpx

from motcua.core.settings import Settings
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH
from tests.integrations.conftest import Host, Register
from tests.integrations.test_api import authorised

VIETNAMESE = re.compile(r"\w*[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]\w*", re.I)
BAD = {
    "external_id": "has spaces",
    "procedure_code": BIRTH["code"],
    "applicant": {"personal_id": "12345", "full_name": "", "email": "nope", "extra": 1},
    "data": {"child_full_name": 5, "unknown_field": "x" * 5000},
    "submitted_by_citizen": "yes",
    "surprise": True,
}


def _words(response: httpx.Response) -> list[str]:
    problem = response.json()
    return [problem["title"], problem.get("detail", ""), *(e["message"] for e in problem.get("errors", []))]


async def test_problems_are_written_in_the_callers_language(
    make_tenant: MakeTenant, register: Register, host: Host, live_settings: Settings
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    http, auth = await authorised(host, register, tenant)

    vietnamese = await http.post("/api/v1/dossiers", json=BAD, headers=auth)
    english = await http.post(
        "/api/v1/dossiers", json=BAD, headers={**auth, "Accept-Language": "en-GB, vi;q=0.5"}
    )
    for response, lang in ((vietnamese, "vi"), (english, "en")):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["content-language"] == lang
        assert "accept-language" in response.headers["vary"].lower()
    vi, en = vietnamese.json(), english.json()
    # The same problem, word for word apart from the words.
    assert (vi["type"], vi["status"]) == (en["type"], en["status"]) == ("urn:motcua:problem:invalid", 422)
    assert [e["field"] for e in vi["errors"]] == [e["field"] for e in en["errors"]]
    assert vi["title"] == "Dữ liệu không hợp lệ" and en["title"] == "Invalid data"
    assert "Dài tối đa 4000 ký tự." in _words(vietnamese)
    assert "At most 4000 characters." in _words(english)
    assert all(VIETNAMESE.search(text) is None for text in _words(english)), _words(english)

    # A language the portal does not speak, or English refused (q=0): Vietnamese.
    for header in ("fr", "en;q=0, vi", "*"):
        other = await http.post("/api/v1/dossiers", json=BAD, headers={**auth, "Accept-Language": header})
        assert (other.headers["content-language"], other.json()["title"]) == ("vi", vi["title"]), header

    # Not signed (401), an unknown dossier (404), a body that is not JSON (400), in English.
    unsigned = await http.get("/api/v1/dossiers/X-1", headers={"Accept-Language": "en"})
    missing = await http.get("/api/v1/dossiers/X-1", headers={**auth, "Accept-Language": "en"})
    broken = await http.post(
        "/api/v1/dossiers",
        content=b"{not json",
        headers={**auth, "content-type": "application/json", "Accept-Language": "en"},
    )
    for response, status in ((unsigned, 401), (missing, 404), (broken, 400)):
        assert response.status_code == status, response.text
        assert all(VIETNAMESE.search(text) is None for text in _words(response)), _words(response)
    assert unsigned.headers["www-authenticate"].startswith("Bearer realm=")
    # The webhook subscriptions answer the same way.
    webhook = await http.post(
        "/api/v1/webhooks", json={"url": 5, "extra": 1}, headers={**auth, "Accept-Language": "en"}
    )
    assert webhook.status_code == 422, webhook.text
    assert all(VIETNAMESE.search(text) is None for text in _words(webhook)), _words(webhook)
    # Any other JSON error of the app says which language it is written in.
    nowhere = await http.get("/api/v1/nowhere", headers={"Accept-Language": "en"})
    assert nowhere.status_code == 404 and nowhere.headers["content-language"] == "en", nowhere.text
