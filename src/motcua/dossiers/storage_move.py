"""Copy one tenant's files from one storage backend to the other (``motcua storage move``).

Every object is copied under its own key (keys are the same in both backends, and the database
rows that point at them need no change), then read back from the target and its SHA-256
compared with the source's. An object the target already holds with the same checksum is
skipped, so a move that was interrupted is finished by running it again, and a second run
copies nothing. The source is left as it is: the operator switches ``MOTCUA_STORAGE`` once
the move reports no failure, and removes the old copies when satisfied.

Media types are not carried: the database keeps each file's type, and downloads take it from
there, whichever backend holds the bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from motcua.dossiers.storage import NotFoundInTenantError, Storage, sha256_of

log = logging.getLogger(__name__)


@dataclass
class MoveReport:
    copied: int = 0
    skipped: int = 0  # already in the target with the same checksum
    bytes_copied: int = 0
    failed: list[str] = field(default_factory=list)  # keys whose copy does not match

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def seen(self) -> int:
        return self.copied + self.skipped + len(self.failed)


async def move_tenant_files(
    source: Storage,
    target: Storage,
    tenant_schema: str,
    *,
    progress: Callable[[MoveReport], None] | None = None,
) -> MoveReport:
    report = MoveReport()
    async for key in source.keys(tenant_schema):
        expected = await source.checksum(tenant_schema, key)
        if expected is None:
            continue  # deleted since it was listed: nothing to carry
        if await target.checksum(tenant_schema, key) == expected:
            report.skipped += 1
        else:
            try:
                stored = await target.put_at(
                    tenant_schema,
                    key,
                    await source.open(tenant_schema, key),
                    media_type="application/octet-stream",
                )
                # Read back, not taken on trust: what the target now holds is what counts.
                held = await sha256_of(await target.open(tenant_schema, key))
            except NotFoundInTenantError:
                held, stored = "", None
            if stored is not None and stored.sha256 == expected == held:
                report.copied += 1
                report.bytes_copied += stored.size
            else:
                log.warning("storage move: %s does not match its source after the copy", key)
                report.failed.append(key)
        if progress is not None:
            progress(report)
    return report
