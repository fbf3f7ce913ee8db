"""The back office on `make run`: a citizen submits, an officer of Hà Nội (development e-ID)
accepts, asks for a supplement, the citizen answers, the officer finishes with a result and
delivers it; the citizen sees each step, gets the emails (shown at /dev/mail), rates the
service and finds the result in their document store."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx

from motcua.identity.oidc import LoopbackNames
from tests.e2e import choose_delivery
from tests.e2e.test_run import _free_port, _start, _stop

# A real one-page PDF: results are signed, and the signer needs a page to put the QR code on.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>> endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>> endobj\nxref\n0 4\n0000000000 65535 f \n"
    b"0000000009 00000 n \n0000000053 00000 n \n0000000103 00000 n \ntrailer<</Size 4/Root 1 0 R>>\n"
    b"startxref\n167\n%%EOF\n"
)


def _token(page: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


async def _dev_login(browser: httpx.AsyncClient, base: str, port: int, name: str) -> None:
    start = await browser.get(f"{base}/login")
    picker = await browser.get(start.headers["location"])
    hidden = {
        k: html.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', picker.text)
    }
    person = re.search(rf'name="user" value="([^"]+)">Đăng nhập với tư cách {name}<', picker.text)
    assert person is not None, name
    chosen = await browser.post(
        f"http://eid.localhost:{port}/authorize", data={**hidden, "user": person.group(1)}
    )
    done = await browser.get(chosen.headers["location"])
    assert done.status_code == 303, done.text[:300]


async def _act(officer: httpx.AsyncClient, base: str, code: str, action: str, **fields: str) -> None:
    page = await officer.get(f"{base}/officer/dossiers/{code}")
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version is not None
    done = await officer.post(
        f"{base}/officer/dossiers/{code}/actions/{action}",
        data={"_csrf_token": _token(page.text), "version": version.group(1), **fields},
    )
    assert done.status_code == 303, (action, done.text[:500])


async def test_an_officer_processes_a_dossier_end_to_end_on_make_run(tmp_path: Path) -> None:
    port = _free_port()
    server = _start(tmp_path / "data", port)
    base = f"http://hanoi.localhost:{port}"
    try:
        async with (
            httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=30) as citizen,
            httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=30) as officer,
        ):
            await _dev_login(citizen, base, port, "Nguyễn Văn An")
            form = await citizen.get(f"{base}/procedures/1.001193/apply")
            token = _token(form.text)
            for document in ("to-khai", "giay-chung-sinh"):
                up = await citizen.post(
                    f"{base}/procedures/1.001193/apply/files/{document}",
                    data={"_csrf_token": token},
                    files={"file": (f"{document}.pdf", PDF, "application/pdf")},
                )
                assert up.status_code == 303
            answers = {
                "child_full_name": "Nguyễn Minh Khôi",
                "child_birth_date": "2026-11-20",
                "child_gender": "Nam",
                "birth_place": "Bệnh viện Phụ sản Hà Nội",
                "mother_full_name": "Nguyễn Thị Lan",
                "mother_personal_id": "001190001234",
                "has_father": "Không",
                "contact_phone": "0912345678",
            }
            ok = await citizen.post(
                f"{base}/procedures/1.001193/apply", data={"_csrf_token": token, **answers}
            )
            assert ok.status_code == 303, ok.text[:1500]
            chosen = await choose_delivery(citizen, f"{base}/procedures/1.001193/apply/delivery", token)
            assert chosen.status_code == 303, chosen.text[:1500]
            review = await citizen.get(f"{base}/procedures/1.001193/apply/review")
            submit_token = re.search(r'name="token" value="([^"]+)"', review.text)
            assert submit_token is not None
            slip = await citizen.post(
                f"{base}/procedures/1.001193/apply/submit",
                data={
                    "_csrf_token": _token(review.text),
                    "token": submit_token.group(1),
                    "declaration": "yes",
                },
            )
            code = slip.headers["location"].split("/")[3]

            await _dev_login(officer, base, port, "Phạm Thị Thu Hà")
            queue = await officer.get(f"{base}/officer?queue=new")
            assert code in queue.text
            await _act(officer, base, code, "accept")
            await _act(
                officer,
                base,
                code,
                "request_supplement",
                reason="Ảnh giấy chứng sinh bị mờ",
                items="Giấy chứng sinh (chụp lại rõ nét)",
            )

            detail = await citizen.get(f"{base}/my/dossiers/{code}")
            assert "Ảnh giấy chứng sinh bị mờ" in detail.text
            await citizen.post(
                f"{base}/my/dossiers/{code}/supplement/files",
                data={"_csrf_token": _token(detail.text)},
                files={"file": ("giay-chung-sinh-moi.pdf", PDF, "application/pdf")},
            )
            answered = await citizen.post(
                f"{base}/my/dossiers/{code}/supplement", data={"_csrf_token": _token(detail.text)}
            )
            assert answered.status_code == 303

            workspace = await officer.get(f"{base}/officer/dossiers/{code}")
            assert "Đang xử lý" in workspace.text
            await officer.post(
                f"{base}/officer/dossiers/{code}/results",
                data={"_csrf_token": _token(workspace.text)},
                files={"file": ("giay-khai-sinh.pdf", PDF, "application/pdf")},
            )
            await _act(officer, base, code, "finish")
            await _act(officer, base, code, "deliver")

            final = await citizen.get(f"{base}/my/dossiers/{code}")
            assert "Đã trả kết quả" in final.text
            rated = await citizen.post(
                f"{base}/my/dossiers/{code}/rating", data={"_csrf_token": _token(final.text), "score": "5"}
            )
            assert rated.status_code == 303
            store = await citizen.get(f"{base}/my/documents")
            assert "giay-khai-sinh.pdf" in store.text

            async def inbox() -> str:
                return (await citizen.get(f"http://localhost:{port}/dev/mail")).text

            import asyncio

            for _ in range(60):  # the worker sends them; give it a moment
                mail = await inbox()
                if all(s in mail for s in (f"Hồ sơ {code} đã được tiếp nhận", "trả kết quả")):
                    break
                await asyncio.sleep(0.5)
            assert f"Hồ sơ {code} đã được tiếp nhận" in mail
            assert "nguyenvanan@example.com" in mail
    finally:
        _stop(server)
