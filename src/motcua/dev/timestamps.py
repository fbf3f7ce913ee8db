"""A development timestamp authority (RFC 3161 over HTTP) at http://localhost:8000/dev/tsa on the
platform host, with a key of the development CA (``signing.certificates``). Point
``MOTCUA_SIGNING_TSA_URL`` at it and signatures become PAdES B-T. Mounted only when development
services are on, which production refuses."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from asn1crypto import tsp
from cryptography.hazmat.primitives.serialization import pkcs12
from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.response import Response

from motcua.core.settings import Settings
from motcua.signing.certificates import DevCertificateAuthority
from motcua.signing.signers import to_asn1

TSA_PATH = "/dev/tsa"
QUERY = "application/timestamp-query"
REPLY = "application/timestamp-reply"
# A request is a hash and a few fields: anything larger is not one.
_MAX_QUERY = 16 * 1024


def _answer(settings: Settings, body: bytes) -> bytes:
    # pyHanko on first use, as signing does (signing.pades): the web process starts without it.
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    ca = DevCertificateAuthority(settings.data_dir / "signing")
    key = ca.tsa_key()
    chain = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    chain.register_multiple([to_asn1(c) for c in key.chain])
    stamper = DummyTimeStamper(
        tsa_cert=to_asn1(key.certificate),
        tsa_key=_private_key_info(key.pkcs12, key.passphrase),
        certs_to_embed=chain,
    )
    request = tsp.TimeStampReq.load(body)
    return bytes(stamper.request_tsa_response(request).dump())


def _private_key_info(pkcs12_data: bytes, passphrase: bytes) -> Any:
    from pyhanko.keys.internal import translate_pyca_cryptography_key_to_asn1

    key, _, _ = pkcs12.load_key_and_certificates(pkcs12_data, passphrase)
    assert key is not None
    return translate_pyca_cryptography_key_to_asn1(key)


@post(TSA_PATH, include_in_schema=False, status_code=200, request_max_body_size=_MAX_QUERY)
async def timestamp(request: Request[Any, Any, Any], settings: NamedDependency[Settings]) -> Response[bytes]:
    if request.headers.get("content-type", "").split(";")[0].strip() != QUERY:
        return Response(b"", status_code=415)
    body = await request.body()
    try:
        reply = await anyio.to_thread.run_sync(_answer, settings, body)
    except ValueError:
        return Response(b"", status_code=400)
    return Response(reply, media_type=REPLY)


router = Router(path="/platform", route_handlers=[timestamp])
