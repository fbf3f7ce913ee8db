"""Where finished tenant exports are kept when files live in a bucket (``MOTCUA_STORAGE=s3``).

An export is written to the local exports folder first (a tar is built by appending), then put
in the bucket under a prefix of the platform's own, ``exports/<slug>/<name>.tar``: never under
a tenant's prefix, because an export must outlive its tenant's deletion (which purges that
prefix). The bucket is then the copy every replica shares; the local folder is this process's
cache, filled again from the bucket by whichever web or worker process needs the file (a
download, a restore). The SHA-256 recorded at upload is checked on every fetch.

With files on the filesystem, the local folder is the store and nothing here runs.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from motcua.core.settings import Settings
from motcua.dossiers.backends import storage_named
from motcua.tenancy.backup import file_sha256

if TYPE_CHECKING:
    from motcua.dossiers.s3_storage import S3Storage

# botocore is imported by the functions below, which run only with files in a bucket: a
# deployment on the filesystem never loads it (~0.3 s a process, with boto3).

PREFIX = "exports/"


class ExportStoreError(Exception):
    """The bucket could not be reached, or a fetched copy does not match what was put."""


@dataclass(frozen=True)
class StoredExport:
    slug: str
    name: str
    size: int


def export_bucket(settings: Settings) -> S3Storage | None:
    """The bucket exports go to, or None when files are on the filesystem."""
    if settings.storage != "s3" or settings.s3 is None:
        return None
    from motcua.dossiers.s3_storage import S3Storage

    storage = storage_named(settings, "s3")
    assert isinstance(storage, S3Storage)
    return storage


def export_key(slug: str, name: str) -> str:
    return f"{PREFIX}{slug}/{name}.tar"


def put_export(bucket: S3Storage, slug: str, name: str, path: Path, sha256: str) -> None:
    """Upload a finished export (multipart for large ones), its SHA-256 kept beside it."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        bucket.client.upload_file(
            str(path),
            bucket.bucket,
            export_key(slug, name),
            ExtraArgs={"ContentType": "application/x-tar", "Metadata": {"sha256": sha256}},
        )
    except (BotoCoreError, ClientError) as exc:
        raise ExportStoreError(f"the export could not be stored in the bucket: {exc}") from exc


def fetch_export(bucket: S3Storage, slug: str, name: str, path: Path) -> bool:
    """Bring the export into ``path`` from the bucket: False when the bucket has no such export.
    The copy is checked against the SHA-256 recorded at upload before it takes its name."""
    from botocore.exceptions import BotoCoreError, ClientError

    key = export_key(slug, name)
    try:
        head = bucket.client.head_object(Bucket=bucket.bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise ExportStoreError(f"the bucket could not be read: {exc}") from exc
    except BotoCoreError as exc:
        raise ExportStoreError(f"the bucket could not be read: {exc}") from exc
    expected = head.get("Metadata", {}).get("sha256", "")
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    partial = path.with_name(f".fetch-{uuid.uuid4().hex[:8]}-{path.name}")
    try:
        bucket.client.download_file(bucket.bucket, key, str(partial))
        if expected and file_sha256(partial) != expected:
            raise ExportStoreError(f"the bucket's copy of {key} does not match its checksum")
        partial.chmod(0o640)
        os.replace(partial, path)
    except (BotoCoreError, ClientError) as exc:
        raise ExportStoreError(f"the bucket could not be read: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return True


def stored_in_bucket(bucket: S3Storage, slug: str | None = None) -> Iterator[StoredExport]:
    """Every export in the bucket, or one tenant's (names are checked by the caller)."""
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = export_key(slug, "")[: -len(".tar")] if slug else PREFIX
    try:
        pages = bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                rest = item["Key"][len(PREFIX) :]
                owner, _sep, file = rest.partition("/")
                if file.endswith(".tar") and "/" not in file:
                    yield StoredExport(owner, file[: -len(".tar")], int(item.get("Size", 0)))
    except (BotoCoreError, ClientError) as exc:
        raise ExportStoreError(f"the bucket could not be listed: {exc}") from exc
