"""Rating a delivered dossier: only the owner, only after delivery, once, 5 levels."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import Engine, text

from tests.backoffice.test_workspace import _act, _officer, _submit
from tests.conftest import MakeTenant
from tests.dossiers.conftest import BIRTH, PDF, SignIn, csrf


async def deliver(officer: httpx.AsyncClient, code: str) -> None:
    """Drive a submitted dossier through the back office to 'delivered'."""
    assert (await _act(officer, code, "accept")).status_code == 303
    assert (await _act(officer, code, "start")).status_code == 303
    page = await officer.get(f"/officer/dossiers/{code}")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    uploaded = await officer.post(
        f"/officer/dossiers/{code}/results",
        data={"_csrf_token": token.group(1)},
        files={"file": ("ket-qua.pdf", PDF, "application/pdf")},
    )
    assert uploaded.status_code == 303
    assert (await _act(officer, code, "finish")).status_code == 303
    assert (await _act(officer, code, "deliver")).status_code == 303


def _ratings(engine: Engine, schema: str) -> list[tuple[int, str | None]]:
    with engine.connect() as conn:
        return [
            (r.score, r.comment)
            for r in conn.execute(text(f"SELECT score, comment FROM {schema}.ratings ORDER BY id")).all()
        ]


async def test_a_citizen_rates_a_delivered_dossier_once(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    citizen, code = await _submit(sign_in, tenant)
    officer = await _officer(sign_in, engine, tenant)
    token = await csrf(citizen, "/feedback")
    url = f"/my/dossiers/{code}/rating"

    # Not delivered yet: no rating box on the dossier page, and a rating is refused.
    detail = await citizen.get(f"/my/dossiers/{code}")
    assert 'id="rating"' not in detail.text
    early = await citizen.post(url, data={"_csrf_token": token, "score": "5"})
    assert early.status_code == 409
    assert "sau khi hồ sơ đã được trả kết quả" in early.text
    assert _ratings(engine, tenant.schema) == []

    await deliver(officer, code)
    detail = await citizen.get(f"/my/dossiers/{code}")
    assert f'hx-get="{url}"' in detail.text
    assert f'<a href="{url}">' in detail.text  # the way in without JavaScript

    # The box htmx loads: an accessible radio group of five levels, no page around it.
    panel = await citizen.get(url, headers={"hx-request": "true"})
    assert panel.status_code == 200
    assert "<html" not in panel.text
    assert "<fieldset" in panel.text and "<legend>" in panel.text
    assert len(re.findall(r'type="radio" name="score"', panel.text)) == 5
    assert "Rất không hài lòng" in panel.text and "Rất hài lòng" in panel.text
    full = await citizen.get(url)
    assert "<html" in full.text and 'action="' + url + '"' in full.text

    # Errors are shown, and what was typed is kept.
    out_of_range = await citizen.post(url, data={"_csrf_token": token, "score": "6", "comment": "Tốt"})
    assert out_of_range.status_code == 400
    assert "từ 1 đến 5" in out_of_range.text
    assert ">Tốt</textarea>" in out_of_range.text
    missing = await citizen.post(url, data={"_csrf_token": token, "comment": ""})
    assert missing.status_code == 400
    assert "từ 1 đến 5" in missing.text
    too_long = await citizen.post(url, data={"_csrf_token": token, "score": "4", "comment": "x" * 1001})
    assert too_long.status_code == 400
    assert "1000 ký tự" in too_long.text
    assert 'value="4" required checked' in too_long.text
    assert _ratings(engine, tenant.schema) == []

    done = await citizen.post(url, data={"_csrf_token": token, "score": "5", "comment": "  Nhanh, chu đáo  "})
    assert done.status_code == 303
    assert done.headers["location"] == f"/my/dossiers/{code}#rating"
    shown = await citizen.get(url, headers={"hx-request": "true"})
    assert "Bạn đã đánh giá: Rất hài lòng (5/5)." in shown.text
    assert "Nhanh, chu đáo" in shown.text
    assert 'name="score"' not in shown.text

    again = await citizen.post(url, data={"_csrf_token": token, "score": "1"})
    assert again.status_code == 409
    assert "chỉ được đánh giá một lần" in again.text
    assert _ratings(engine, tenant.schema) == [(5, "Nhanh, chu đáo")]


async def test_another_person_cannot_see_or_rate_the_dossier(
    sign_in: SignIn, make_tenant: MakeTenant, engine: Engine
) -> None:
    tenant = make_tenant(procedures=[BIRTH])
    _, code = await _submit(sign_in, tenant)
    await deliver(await _officer(sign_in, engine, tenant), code)
    stranger = await sign_in(tenant, name="Trần Văn Bình", personal_id="001190009999")
    token = await csrf(stranger, "/feedback")
    assert (await stranger.get(f"/my/dossiers/{code}/rating")).status_code == 404
    posted = await stranger.post(f"/my/dossiers/{code}/rating", data={"_csrf_token": token, "score": "1"})
    assert posted.status_code == 404
    assert _ratings(engine, tenant.schema) == []
