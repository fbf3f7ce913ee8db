"""platform: what the central console shows and keeps — status reasons, archive dates, the
onboarding request (to retry it), the schema version, per-tenant live figures, audit indexes

Revision ID: p0006
Revises: p0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "p0006"
down_revision: str | None = "p0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # All additive and nullable: safe while the previous release still serves (expand step).
    # Why a portal is suspended or archived, shown to its visitors on the notice page.
    op.add_column("tenants", sa.Column("status_reason", sa.Text), schema="platform")
    op.add_column("tenants", sa.Column("archived_at", sa.DateTime(timezone=True)), schema="platform")
    # The validated onboarding request, kept so a failed onboarding can be retried from the
    # console with the same values (after the cause is fixed).
    op.add_column("tenants", sa.Column("onboarding_spec", JSONB), schema="platform")
    # The tenant schema's Alembic revision, written by each migration run: the console lists a
    # thousand tenants without opening a thousand schemas.
    op.add_column("tenants", sa.Column("schema_version", sa.String(32)), schema="platform")
    # Live figures per tenant for the console home, refreshed by a periodic job (reading them
    # from every tenant schema on each page view would cost a query per tenant).
    op.execute(
        """
        CREATE TABLE platform.tenant_figures (
            tenant_id bigint PRIMARY KEY REFERENCES platform.tenants(id) ON DELETE CASCADE,
            dossiers_month integer NOT NULL DEFAULT 0,
            overdue_now integer NOT NULL DEFAULT 0,
            failed_jobs_24h integer NOT NULL DEFAULT 0,
            last_activity_at timestamptz,
            refreshed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # The audit viewer filters by tenant, action and period, newest first.
    op.execute("CREATE INDEX ix_audit_log_at ON platform.audit_log (at DESC, id DESC)")
    op.execute("CREATE INDEX ix_audit_log_action_at ON platform.audit_log (action, at DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX platform.ix_audit_log_action_at")
    op.execute("DROP INDEX platform.ix_audit_log_at")
    op.execute("DROP TABLE platform.tenant_figures")
    for column in ("schema_version", "onboarding_spec", "archived_at", "status_reason"):
        op.drop_column("tenants", column, schema="platform")
