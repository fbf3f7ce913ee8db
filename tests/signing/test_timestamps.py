"""The development timestamp authority (RFC 3161 over HTTP) and PAdES B-T signatures."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import anyio.to_thread
import httpx
from asn1crypto import tsp
from litestar import Litestar
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from motcua.core.settings import Settings
from motcua.dev.timestamps import QUERY, REPLY, _answer
from motcua.dossiers.backends import storage_for_settings
from motcua.signing.pades import LocalKeySigner
from motcua.signing.services import Signing
from motcua.signing.signers import Appearance, to_asn1
from motcua.signing.verification import Verdict
from tests.conftest import asgi_transport
from tests.signing.test_signing import a_pdf


class InProcess(TimeStamper):
    """The stand-in's own answer without a listening port (the route is tested over HTTP below)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.settings = settings

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(_answer(self.settings, req.dump()))


async def test_the_stand_in_answers_rfc_3161_requests_over_http(app: Litestar) -> None:
    stamper = TimeStamper()  # type: ignore[no-untyped-call]
    _, query = stamper.request_cms(hashlib.sha256(b"van ban").digest(), "sha256")  # type: ignore[no-untyped-call]
    async with httpx.AsyncClient(transport=asgi_transport(app), base_url="http://localhost") as client:
        reply = await client.post("/dev/tsa", content=query.dump(), headers={"content-type": QUERY})
        assert reply.status_code == 200 and reply.headers["content-type"].startswith(REPLY)
        answer: Any = tsp.TimeStampResp.load(reply.content)
        assert answer["status"]["status"].native == "granted"
        assert (
            await client.post("/dev/tsa", content=b"x", headers={"content-type": "text/plain"})
        ).status_code == 415
        assert (
            await client.post("/dev/tsa", content=b"x", headers={"content-type": QUERY})
        ).status_code == 400


async def test_a_configured_timestamp_authority_makes_the_signature_b_t(live_settings: Settings) -> None:
    signing = Signing.for_settings(live_settings, storage_for_settings(live_settings))
    assert signing.ca is not None
    key = signing.ca.issue("Bộ Thử nghiệm", "Văn phòng Bộ")
    signer = LocalKeySigner(key, timestamper=InProcess(live_settings))
    # Blocking, with an event loop of its own: in a thread, as sign_and_file runs it.
    signed = await anyio.to_thread.run_sync(signer.sign, a_pdf(), Appearance("Văn phòng Bộ", "A"))
    assert signed.timestamped
    (signature,) = PdfFileReader(io.BytesIO(signed.data)).embedded_signatures
    status = await async_validate_pdf_signature(
        signature, ValidationContext(trust_roots=[to_asn1(signing.ca.root())], crls=[signing.ca.crl()])
    )
    assert status.bottom_line
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    check = await anyio.to_thread.run_sync(signing.check, signed.data)
    assert check.verdict is Verdict.VALID and check.timestamped_at is not None
