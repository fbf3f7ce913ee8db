"""Payments on `make run`, offline: a citizen of Hà Nội submits a procedure with a fee, is sent to
the local Stripe stand-in's checkout page, pays, comes back and sees the receipt; the webhook
(signed by the stand-in, verified by the portal) marks the dossier paid, the receipt is mailed;
the officer sees it paid. Run twice: with files on the filesystem, and in an S3 bucket on the
suite's local S3 server (the upload, the slip and the receipt PDF filed by the worker)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from motcua.core.settings import S3Bucket
from motcua.identity.oidc import LoopbackNames
from tests.e2e import choose_delivery
from tests.e2e.test_back_office_run import PDF, _dev_login, _token
from tests.e2e.test_run import _free_port, _start, _stop
from tests.s3 import S3Stand, s3_env


@pytest.mark.parametrize("storage", ["filesystem", "s3"])
async def test_a_citizen_pays_a_fee_through_the_stand_in_checkout_on_make_run(
    tmp_path: Path, request: pytest.FixtureRequest, storage: str
) -> None:
    bucket: S3Bucket | None = request.getfixturevalue("s3_bucket") if storage == "s3" else None
    port = _free_port()
    server = _start(tmp_path / "data", port, env=s3_env(bucket) if bucket else None)
    base = f"http://hanoi.localhost:{port}"
    try:
        async with (
            httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=30) as citizen,
            httpx.AsyncClient(transport=LoopbackNames(), follow_redirects=False, timeout=30) as officer,
        ):
            await _dev_login(citizen, base, port, "Nguyễn Văn An")
            procedure = await citizen.get(f"{base}/procedures/1.004873")
            assert "15.000 ₫" in procedure.text  # Cấp Giấy xác nhận tình trạng hôn nhân
            form = await citizen.get(f"{base}/procedures/1.004873/apply")
            token = _token(form.text)
            uploaded = await citizen.post(
                f"{base}/procedures/1.004873/apply/files/to-khai",
                data={"_csrf_token": token},
                files={"file": ("to-khai.pdf", PDF, "application/pdf")},
            )
            assert uploaded.status_code == 303
            answers = {"purpose": "Kết hôn", "marital_status": "Chưa kết hôn"}
            ok = await citizen.post(
                f"{base}/procedures/1.004873/apply", data={"_csrf_token": token, **answers}
            )
            assert ok.status_code == 303, ok.text[:1500]
            chosen = await choose_delivery(citizen, f"{base}/procedures/1.004873/apply/delivery", token)
            assert chosen.status_code == 303, chosen.text[:1500]
            review = await citizen.get(f"{base}/procedures/1.004873/apply/review")
            submit_token = re.search(r'name="token" value="([^"]+)"', review.text)
            assert submit_token is not None
            slip = await citizen.post(
                f"{base}/procedures/1.004873/apply/submit",
                data={
                    "_csrf_token": _token(review.text),
                    "token": submit_token.group(1),
                    "declaration": "yes",
                },
            )
            code = slip.headers["location"].split("/")[3]
            slip_page = await citizen.get(f"{base}{slip.headers['location']}")
            # The amount is in its own never-wrapping span: read the sentence as a person does.
            assert "Hồ sơ có phí, lệ phí 15.000 ₫." in re.sub(r"<[^>]+>", "", slip_page.text)

            detail = await citizen.get(f"{base}/my/dossiers/{code}")
            assert 'data-paid="no"' in detail.text
            started = await citizen.post(
                f"{base}/my/dossiers/{code}/pay", data={"_csrf_token": _token(detail.text)}
            )
            assert started.status_code == 303, started.text[:500]
            checkout = started.headers["location"]
            assert checkout.startswith("http://127.0.0.1:") and "/pay/cs_test_" in checkout
            hosted = await citizen.get(checkout)
            assert "Thanh toán thử — không dùng thẻ thật" in hosted.text
            assert "15.000 ₫" in hosted.text
            assert "Lệ phí cấp Giấy xác nhận tình trạng hôn nhân" in hosted.text  # the catalogue's fee
            paid = await citizen.post(checkout, data={"action": "pay"})
            assert paid.status_code == 303
            back = paid.headers["location"]
            assert back.startswith(f"{base}/payments/")

            # The signed webhook reached the portal before the browser came back.
            assert 'data-paid="yes"' in (await citizen.get(f"{base}/my/dossiers/{code}")).text
            result = await citizen.get(back)
            assert 'data-payment-status="succeeded"' in result.text
            receipt_link = re.search(r'href="(/receipts/\d+)" data-testid="receipt-link"', result.text)
            assert receipt_link is not None
            receipt = await citizen.get(f"{base}{receipt_link.group(1)}")
            assert "Mười lăm nghìn đồng" in receipt.text
            assert "Nguyễn Văn An" in receipt.text
            pdf = await citizen.get(f"{base}{receipt_link.group(1)}/pdf")
            assert pdf.content.startswith(b"%PDF")
            assert receipt_link.group(1) in (await citizen.get(f"{base}/my/documents")).text

            for _ in range(60):  # the worker sends the receipt email; give it a moment
                mail = (await citizen.get(f"http://localhost:{port}/dev/mail")).text
                if f"Hồ sơ {code}: đã nhận phí, lệ phí" in mail:
                    break
                await asyncio.sleep(0.5)
            assert f"Hồ sơ {code}: đã nhận phí, lệ phí" in mail

            await _dev_login(officer, base, port, "Phạm Thị Thu Hà")
            workspace = await officer.get(f"{base}/officer/dossiers/{code}")
            assert 'data-paid="yes"' in workspace.text
            assert 'data-payment-status="succeeded"' in workspace.text
            assert receipt_link.group(1) in workspace.text

            # A partial refund through the stand-in; the citizen is told by mail.
            payment_id = re.search(r'data-payment-id="(\d+)"', workspace.text)
            remaining = re.search(r'name="remaining" value="(\d+)"', workspace.text)
            assert payment_id is not None and remaining is not None
            refunded = await officer.post(
                f"{base}/officer/dossiers/{code}/payments/{payment_id.group(1)}/refund",
                data={
                    "_csrf_token": _token(workspace.text),
                    "remaining": remaining.group(1),
                    "amount": "5.000",
                    "reason": "Thu thừa phí sao lục",
                    "confirm": "yes",
                },
            )
            assert refunded.status_code == 303, refunded.text[:500]
            for _ in range(60):
                mail = (await citizen.get(f"http://localhost:{port}/dev/mail")).text
                if f"Hồ sơ {code}: hoàn trả 5.000 ₫" in mail:
                    break
                await asyncio.sleep(0.5)
            assert f"Hồ sơ {code}: hoàn trả 5.000 ₫" in mail
            # The officer opens the citizen's upload, wherever it is kept.
            file_link = re.search(r'href="(/officer/files/[0-9a-f]{32})"', workspace.text)
            assert file_link is not None
            opened = await officer.get(f"{base}{file_link.group(1)}")
            assert opened.content == PDF
            assert opened.headers["x-content-type-options"] == "nosniff"
            # A PDF: shown in the workspace's viewer, so framed by the portal's own pages only,
            # and no script whatever it holds (backoffice.routes.officer_file).
            policy = opened.headers["content-security-policy"]
            assert "default-src 'none'" in policy and "frame-ancestors 'self'" in policy
            assert "script-src" not in policy
            assert opened.headers["x-frame-options"] == "SAMEORIGIN"
    finally:
        _stop(server)
    files = tmp_path / "data" / "files" / "t_hanoi"
    if bucket is None:
        assert files.is_dir()
        return
    # Everything Hà Nội stored went to the bucket, under its prefix, and nothing to the disk.
    client = request.getfixturevalue("s3_server")
    assert isinstance(client, S3Stand)
    listed = client.client(bucket).list_objects_v2(Bucket=bucket.bucket, Prefix="t_hanoi/")
    sizes = sorted(o.get("Size", 0) for o in listed.get("Contents", []))
    assert len(sizes) >= 2 and len(PDF) in sizes  # the upload and the receipt PDF, at least
    assert not files.exists()
