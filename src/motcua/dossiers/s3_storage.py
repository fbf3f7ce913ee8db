"""Documents in an S3-compatible bucket (AWS S3, MinIO, Ceph, a cloud's object storage).

The same interface and keys as ``LocalStorage`` (``dossiers.storage``):

* The object key is the storage key, ``{tenant_schema}/{yyyy}/{mm}/{id}``, so each tenant's
  objects sit under its own prefix, and ``parse_key`` refuses another tenant's key before any
  request leaves the process.
* On upload we send the SHA-256 we computed (``ChecksumSHA256``) and the MD5 (``ContentMD5``):
  the server refuses the object if what arrived differs, so a key never names damaged bytes,
  and it keeps the checksum beside the object (read back by ``checksum`` with a HEAD). Our own
  SHA-256 is also kept as metadata, for servers that do not keep checksums, and is what
  ``StoredObject`` records, as for the filesystem.
* Objects are read through the app in chunks, never by a presigned URL: every download keeps
  the access checks and response headers of the route that serves it.
* boto3 blocks, so every call runs in a worker thread (``anyio.to_thread``). A missing object
  is ``NotFoundInTenantError``; anything else the server or network does is ``StorageError``.
* An upload given as chunks is spooled (in memory up to 8 MB, then a temporary file) to learn
  its checksum before it is sent: documents are at most tens of megabytes, so one PUT suffices.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from motcua.core.settings import S3Bucket
from motcua.dossiers.storage import (
    CHUNK_SIZE,
    NotFoundInTenantError,
    StorageError,
    StoredObject,
    check_schema,
    new_key,
    parse_key,
    sha256_of,
)

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client

SPOOL_IN_MEMORY = 8 * 1024 * 1024
_MISSING = {"NoSuchKey", "404", "NotFound"}
_T = TypeVar("_T")


def s3_client(bucket: S3Bucket) -> S3Client:
    config = Config(
        signature_version="s3v4",
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        # Path-style addressing works on every S3-compatible server; virtual hosts need DNS
        # for each bucket, which a MinIO in the cluster does not have.
        s3={"addressing_style": "path" if bucket.endpoint_url else "auto"},
        # We send our own SHA-256; botocore's default extra CRC (aws-chunked bodies) is refused
        # by some S3-compatible servers.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=bucket.endpoint_url,
        region_name=bucket.region,
        aws_access_key_id=bucket.access_key_id,
        aws_secret_access_key=bucket.secret_access_key,
        config=config,
    )


class S3Storage:
    """Objects under ``bucket/<schema>/<yyyy>/<mm>/<id>``."""

    def __init__(self, bucket: S3Bucket, *, chunk_size: int = CHUNK_SIZE, client: S3Client | None = None):
        self.bucket = bucket.bucket
        self.chunk_size = chunk_size
        self.client = client or s3_client(bucket)

    async def put(
        self, tenant_schema: str, data: bytes | AsyncIterable[bytes], *, media_type: str
    ) -> StoredObject:
        return await self._upload(new_key(tenant_schema), data, media_type=media_type)

    async def put_at(
        self, tenant_schema: str, key: str, data: bytes | AsyncIterable[bytes], *, media_type: str
    ) -> StoredObject:
        parse_key(tenant_schema, key)
        return await self._upload(key, data, media_type=media_type)

    async def open(self, tenant_schema: str, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; the GET is made here, so a missing one fails now.

        Iterate the result to the end or ``aclose()`` it to release the connection at once."""
        parse_key(tenant_schema, key)
        response = await self._call(self.client.get_object, Bucket=self.bucket, Key=key)
        return self._chunks(response["Body"])

    async def delete(self, tenant_schema: str, key: str) -> None:
        parse_key(tenant_schema, key)
        # S3 answers a delete of a missing key with success: idempotent, like the filesystem.
        await self._call(self.client.delete_object, Bucket=self.bucket, Key=key)

    async def keys(self, tenant_schema: str) -> AsyncIterator[str]:
        schema = check_schema(tenant_schema)
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = await self._call(
                self.client.list_objects_v2, Bucket=self.bucket, Prefix=f"{schema}/", **extra
            )
            for item in page.get("Contents", []):
                key = item.get("Key", "")
                # Whatever else someone put under the prefix is not ours to hand out.
                try:
                    parse_key(schema, key)
                except NotFoundInTenantError:
                    continue
                yield key
            if not page.get("IsTruncated"):
                return
            token = page.get("NextContinuationToken")

    async def purge(self, tenant_schema: str) -> None:
        """Delete every object under the tenant's prefix, a thousand per request."""
        prefix = f"{check_schema(tenant_schema)}/"
        while True:
            page = await self._call(self.client.list_objects_v2, Bucket=self.bucket, Prefix=prefix)
            keys = [item["Key"] for item in page.get("Contents", []) if "Key" in item]
            if not keys:
                return
            done = await self._call(
                self.client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            )
            if errors := done.get("Errors"):
                raise StorageError(f"object storage kept {len(errors)} objects of {tenant_schema}")

    async def checksum(self, tenant_schema: str, key: str) -> str | None:
        """The object's SHA-256 as the server keeps it; read and hashed when it keeps none."""
        try:
            parse_key(tenant_schema, key)
            head = await self._call(
                self.client.head_object, Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"
            )
        except NotFoundInTenantError:
            return None
        kept = head.get("ChecksumSHA256", "")
        # "…-N" is a checksum of parts (multipart uploads), not of the whole object.
        if kept and "-" not in kept:
            return base64.b64decode(kept).hex()
        if meta := head.get("Metadata", {}).get("sha256"):
            return meta
        return await sha256_of(await self.open(tenant_schema, key))

    async def _upload(self, key: str, data: bytes | AsyncIterable[bytes], *, media_type: str) -> StoredObject:
        body: bytes | IO[bytes]
        if isinstance(data, bytes):
            body, size = data, len(data)
            sha256, md5 = hashlib.sha256(data), hashlib.md5(data, usedforsecurity=False)
        else:
            body, sha256, md5, size = await _spool(data)
        try:
            await self._call(
                self.client.put_object,
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentLength=size,
                ContentType=media_type,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(sha256.digest()).decode(),
                ContentMD5=base64.b64encode(md5.digest()).decode(),
                Metadata={"sha256": sha256.hexdigest()},
            )
        finally:
            if not isinstance(body, bytes):
                body.close()
        return StoredObject(key=key, size=size, sha256=sha256.hexdigest(), media_type=media_type)

    async def _chunks(self, body: Any) -> AsyncIterator[bytes]:
        read: Callable[[int], bytes] = body.read
        try:
            while chunk := await self._call(read, self.chunk_size):
                yield chunk
        finally:
            body.close()

    async def _call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        def call() -> _T:
            return fn(*args, **kwargs)

        try:
            return await anyio.to_thread.run_sync(call)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in _MISSING:
                raise NotFoundInTenantError("no such document") from None
            # The message names the bucket and the operation, never the credentials.
            refused = f"object storage refused {exc.operation_name} on {self.bucket}: {code}"
            raise StorageError(refused) from exc
        except BotoCoreError as exc:
            raise StorageError(f"object storage unreachable ({type(exc).__name__})") from exc


async def _spool(data: AsyncIterable[bytes]) -> tuple[IO[bytes], Any, Any, int]:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the caller
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    try:
        async for chunk in data:
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
            await anyio.to_thread.run_sync(spool.write, chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, sha256, md5, size
