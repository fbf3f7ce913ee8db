"""Where citizens' documents are kept: a small storage interface and a local-folder backend.

``Storage`` (what any backend provides, local folder or S3-compatible bucket)::

    await storage.put(tenant_schema, data, media_type=...) -> StoredObject  # bytes or AsyncIterable
    await storage.open(tenant_schema, key) -> AsyncIterator[bytes]          # NotFoundInTenantError
    await storage.delete(tenant_schema, key) -> None                        # missing object: no error
    storage.keys(tenant_schema) -> AsyncIterator[str]                       # every key, in order
    await storage.put_at(tenant_schema, key, data, media_type=...)          # a copy under its key
    await storage.checksum(tenant_schema, key) -> str | None                # sha256, None if missing
    await storage.purge(tenant_schema) -> None                              # every object of a tenant

Which backend a process uses is decided once, from the settings, by
``dossiers.backends.storage_for_settings``; ``dossiers.s3_storage`` is the bucket backend.

Decisions:

* The backend makes the key itself: ``{tenant_schema}/{yyyy}/{mm}/{uuid4 hex}`` (``new_key``).
  Nothing a user typed is ever part of a key or a path; the display name lives in the database.
* Every read and delete goes through ``parse_key(tenant_schema, key)``: the key must match the
  pattern exactly and start with the caller's own tenant schema, otherwise the object "does not
  exist" (``NotFoundInTenantError``, the same error as a missing object, so a foreign id reveals
  nothing). The tenant comes from the request's resolved tenant, never from the client, so a
  document id copied from tenant A is unreachable from tenant B. The S3 backend reuses
  ``new_key``/``parse_key`` (the object key is the storage key, so every tenant's objects sit
  under its own prefix) and maps ``NoSuchKey`` to ``NotFoundInTenantError``.
* ``put_at`` (copies between backends, restores) writes under a key made by ``new_key`` earlier,
  checked by ``parse_key`` like any read, and replaces what is there.
* ``LocalStorage`` (root ``settings.data_dir / "files"``) builds paths only from the pattern's
  groups and walks them with ``openat`` and ``O_NOFOLLOW`` from the root, so neither ``..`` nor
  a symbolic link planted inside the root leads outside it: a link is refused with
  ``UnsafePathError``, never followed.
  The root itself may be a link chosen by the operator (e.g. to a mounted volume).
* Writes are atomic: a ``.tmp-…`` file in the target folder, ``fsync``, ``os.replace`` onto the
  final name, ``fsync`` of the folder. A failure or cancellation midway removes the temporary
  file, so a key never names a partial file. Files are ``0o640``, folders ``0o750``.
* Blocking file I/O runs in worker threads (``anyio.to_thread``); only the clean-up after a
  failure runs inline, because it must also happen when the task is being cancelled.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import stat
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

import anyio.to_thread

if TYPE_CHECKING:
    from motcua.core.settings import Settings

# Same rule as the tenant schema check in motcua.core.db.
_SCHEMA = re.compile(r"^t_[a-z][a-z0-9_]{1,30}$")
_KEY = re.compile(r"^(t_[a-z][a-z0-9_]{1,30})/([0-9]{4})/(0[1-9]|1[0-2])/([0-9a-f]{32})$")

FILE_MODE = 0o640
DIR_MODE = 0o750
CHUNK_SIZE = 64 * 1024

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class StorageError(Exception):
    """The storage cannot do what was asked (unsafe layout on disk, I/O failure)."""


class NotFoundInTenantError(StorageError, LookupError):
    """No such object for this tenant: missing, malformed key, or another tenant's key."""


class UnsafePathError(StorageError):
    """A symbolic link or special file sits where storage expects its own folder or file.

    Storage never creates either, so this is tampering or a broken volume: refused loudly
    (server error and a log line), not passed off as a missing document.
    """


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    media_type: str


# Checkable at run time: handlers take it as a dependency, and Litestar checks a dependency's
# type with isinstance.
@runtime_checkable
class Storage(Protocol):
    async def put(
        self, tenant_schema: str, data: bytes | AsyncIterable[bytes], *, media_type: str
    ) -> StoredObject: ...

    async def open(self, tenant_schema: str, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, tenant_schema: str, key: str) -> None: ...

    def keys(self, tenant_schema: str) -> AsyncIterator[str]: ...

    async def put_at(
        self, tenant_schema: str, key: str, data: bytes | AsyncIterable[bytes], *, media_type: str
    ) -> StoredObject: ...

    async def checksum(self, tenant_schema: str, key: str) -> str | None: ...

    async def purge(self, tenant_schema: str) -> None: ...


def check_schema(tenant_schema: str) -> str:
    if not _SCHEMA.match(tenant_schema):
        # A wrong schema is a programming error, not a missing file.
        raise ValueError(f"not a tenant schema name: {tenant_schema!r}")
    return tenant_schema


def new_key(tenant_schema: str, now: datetime | None = None) -> str:
    when = now or datetime.now(UTC)
    return f"{check_schema(tenant_schema)}/{when:%Y}/{when:%m}/{uuid.uuid4().hex}"


def parse_key(tenant_schema: str, key: str) -> tuple[str, str, str, str]:
    """The key's parts (schema, year, month, id) when it belongs to this tenant."""
    check_schema(tenant_schema)
    match = _KEY.fullmatch(key)
    if match is None or match.group(1) != tenant_schema:
        raise NotFoundInTenantError("no such document")
    schema, year, month, ident = match.groups()
    return schema, year, month, ident


class LocalStorage:
    """Files under ``root/<schema>/<yyyy>/<mm>/<id>``."""

    def __init__(self, root: Path, *, chunk_size: int = CHUNK_SIZE) -> None:
        self.root = Path(root)
        self.chunk_size = chunk_size

    @classmethod
    def for_settings(cls, settings: Settings) -> LocalStorage:
        return cls(settings.data_dir / "files")

    async def put(
        self, tenant_schema: str, data: bytes | AsyncIterable[bytes], *, media_type: str
    ) -> StoredObject:
        return await self._write(new_key(tenant_schema), data, media_type=media_type)

    async def put_at(
        self, tenant_schema: str, key: str, data: bytes | AsyncIterable[bytes], *, media_type: str
    ) -> StoredObject:
        parse_key(tenant_schema, key)
        return await self._write(key, data, media_type=media_type)

    async def _write(self, key: str, data: bytes | AsyncIterable[bytes], *, media_type: str) -> StoredObject:
        *folders, name = key.split("/")
        digest = hashlib.sha256()
        size = 0
        temp = f".tmp-{uuid.uuid4().hex}"
        dir_fd, file = await anyio.to_thread.run_sync(self._create_temp, folders, temp)
        try:
            if isinstance(data, bytes):
                chunk = data
                digest.update(chunk)
                size = len(chunk)
                await anyio.to_thread.run_sync(file.write, chunk)
            else:
                async for chunk in data:
                    digest.update(chunk)
                    size += len(chunk)
                    await anyio.to_thread.run_sync(file.write, chunk)
            await anyio.to_thread.run_sync(_commit, file, dir_fd, temp, name)
        except BaseException:
            _discard(file, dir_fd, temp)
            raise
        finally:
            os.close(dir_fd)
        return StoredObject(key=key, size=size, sha256=digest.hexdigest(), media_type=media_type)

    async def open(self, tenant_schema: str, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; the file is opened here, so a missing one fails now.

        Iterate the result to the end or ``aclose()`` it to release the file at once.
        """
        *folders, name = parse_key(tenant_schema, key)
        file = await anyio.to_thread.run_sync(self._open_for_read, folders, name)
        return _chunks(file, self.chunk_size)

    async def delete(self, tenant_schema: str, key: str) -> None:
        *folders, name = parse_key(tenant_schema, key)
        await anyio.to_thread.run_sync(self._unlink, folders, name)

    async def keys(self, tenant_schema: str) -> AsyncIterator[str]:
        """The tenant's keys in order: regular files named like keys only (temporary files of a
        write in progress are skipped, and a symbolic link is never followed)."""
        found = await anyio.to_thread.run_sync(self._list, check_schema(tenant_schema))
        for key in found:
            yield key

    async def checksum(self, tenant_schema: str, key: str) -> str | None:
        try:
            chunks = await self.open(tenant_schema, key)
        except NotFoundInTenantError:
            return None
        return await sha256_of(chunks)

    async def purge(self, tenant_schema: str) -> None:
        """Remove the tenant's folder (a deleted tenant, a failed restore)."""
        await anyio.to_thread.run_sync(self._remove_tree, check_schema(tenant_schema))

    # Blocking helpers, run in worker threads.

    def _remove_tree(self, schema: str) -> None:
        top = self.root / schema
        if top.is_symlink():
            raise _unsafe(schema)
        # rmtree never follows a link inside the tree: it removes the link itself.
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(top)

    def _open_dir(self, folders: list[str], *, create: bool) -> int:
        """A descriptor for root/folders…, refusing any symbolic link below the root."""
        if create:
            self.root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFoundInTenantError("no such document") from None
        try:
            for folder in folders:
                made = False
                if create:
                    try:
                        os.mkdir(folder, DIR_MODE, dir_fd=fd)
                        made = True
                    except FileExistsError:
                        pass
                try:
                    child = os.open(folder, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    raise NotFoundInTenantError("no such document") from None
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _unsafe(folder) from None
                    raise
                if made:
                    # mkdir's mode is cut by the umask; the folder must be exactly 0o750.
                    os.fchmod(child, DIR_MODE)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _create_temp(self, folders: list[str], temp: str) -> tuple[int, BinaryIO]:
        dir_fd = self._open_dir(folders, create=True)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(temp, flags, FILE_MODE, dir_fd=dir_fd)
            os.fchmod(fd, FILE_MODE)
            return dir_fd, os.fdopen(fd, "wb")
        except BaseException:
            os.close(dir_fd)
            raise

    def _open_for_read(self, folders: list[str], name: str) -> BinaryIO:
        dir_fd = self._open_dir(folders, create=False)
        try:
            # O_NONBLOCK: a FIFO planted under the key must not hang the thread on open.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            try:
                fd = os.open(name, flags, dir_fd=dir_fd)
            except FileNotFoundError:
                raise NotFoundInTenantError("no such document") from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _unsafe(name) from None
                raise
        finally:
            os.close(dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _unsafe(name)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def _list(self, schema: str) -> list[str]:
        top = self.root / schema
        if not top.is_dir() or top.is_symlink():
            return []
        found = []
        for folder, dirs, files in os.walk(top, followlinks=False):
            dirs.sort()
            for file_name in files:
                path = Path(folder) / file_name
                key = f"{schema}/{path.relative_to(top).as_posix()}"
                if _KEY.fullmatch(key) and path.is_file() and not path.is_symlink():
                    found.append(key)
        return sorted(found)

    def _unlink(self, folders: list[str], name: str) -> None:
        try:
            dir_fd = self._open_dir(folders, create=False)
        except NotFoundInTenantError:
            return
        try:
            # unlink never follows a link: a planted one is removed, its target untouched.
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        finally:
            os.close(dir_fd)


def _unsafe(name: str) -> UnsafePathError:
    return UnsafePathError(f"refusing a symbolic link or special file in storage: {name!r}")


def _commit(file: BinaryIO, dir_fd: int, temp: str, name: str) -> None:
    file.flush()
    os.fsync(file.fileno())
    file.close()
    os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    # The rename is durable only once the folder itself is on disk.
    os.fsync(dir_fd)


def _discard(file: BinaryIO, dir_fd: int, temp: str) -> None:
    with contextlib.suppress(OSError):
        file.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp, dir_fd=dir_fd)


async def sha256_of(chunks: AsyncIterator[bytes]) -> str:
    digest = hashlib.sha256()
    async for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


async def _chunks(file: BinaryIO, chunk_size: int) -> AsyncIterator[bytes]:
    read: Callable[[int], bytes] = file.read
    try:
        while chunk := await anyio.to_thread.run_sync(read, chunk_size):
            yield chunk
    finally:
        file.close()
