"""The one way to get the storage: chosen from the settings (``MOTCUA_STORAGE``).

The web app (a singleton dependency), the worker's jobs and the command line all call
``storage_for_settings``, so every process of a deployment reads and writes the same files.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from motcua.core.settings import S3Bucket, Settings, StorageBackend
from motcua.dossiers.storage import LocalStorage, Storage

if TYPE_CHECKING:
    from motcua.dossiers.s3_storage import S3Storage


def storage_for_settings(settings: Settings) -> Storage:
    return storage_named(settings, settings.storage)


def storage_named(settings: Settings, backend: StorageBackend) -> Storage:
    """The ``backend`` of these settings, whichever is in use (``motcua storage move``)."""
    if backend == "s3":
        if settings.s3 is None:
            raise ValueError("MOTCUA_S3_BUCKET is not set")
        return _bucket(settings.s3)
    return LocalStorage.for_settings(settings)


@lru_cache(maxsize=8)
def _bucket(bucket: S3Bucket) -> S3Storage:
    # One client per bucket and process: making one costs tens of milliseconds, and boto3
    # clients are safe to share between threads. Jobs call this once per run. boto3 is imported
    # here, by the processes of a deployment whose files are in a bucket only (~0.3 s).
    from motcua.dossiers.s3_storage import S3Storage

    return S3Storage(bucket)
