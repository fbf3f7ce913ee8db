"""The console's background job: exporting a tenant (minutes for a large one, so never in a
request). It is queued through the outbox by ``admin.archive.request_export``."""

from __future__ import annotations

import dramatiq

from motcua.admin.archive import actor_from_job, run_export
from motcua.core.db import sync_engine
from motcua.core.settings import load_settings


@dramatiq.actor(
    actor_name="export_tenant",
    queue_name="provisioning",
    # A failure is recorded with its reason on the exports page; the person starts another.
    max_retries=0,
    time_limit=6 * 3600 * 1000,
)
def export_tenant(
    slug: str, export: str, actor_kind: str, actor_id: str, actor_address: str | None = None
) -> None:
    settings = load_settings()
    engine = sync_engine(settings.database_url or "", pool_size=0)
    try:
        run_export(
            engine,
            settings,
            slug,
            export,
            actor=actor_from_job(actor_kind, actor_id, actor_address),
        )
    finally:
        engine.dispose()
