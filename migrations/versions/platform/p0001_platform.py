"""platform: tenants, domains, audit log

Revision ID: p0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "p0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("platform",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("slug", sa.String(31), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("schema_name", sa.String(63), nullable=False),
        sa.Column("theme", sa.String(63), nullable=False, server_default="default"),
        sa.Column("branding", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("onboarding_step", sa.String(32)),
        sa.Column("failure_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('province', 'ministry')", name="kind"),
        sa.CheckConstraint(
            "status IN ('provisioning', 'active', 'suspended', 'failed', 'archived')", name="status"
        ),
        sa.UniqueConstraint("slug"),
        sa.UniqueConstraint("schema_name"),
        schema="platform",
    )
    op.create_table(
        "domains",
        sa.Column("host", sa.String(253), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.BigInteger,
            sa.ForeignKey("platform.tenants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("host = lower(host)", name="host_lower"),
        schema="platform",
    )
    op.create_index("ix_domains_tenant_id", "domains", ["tenant_id"], schema="platform")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("tenant_slug", sa.String(31)),
        sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        schema="platform",
    )
    op.create_index("ix_audit_log_tenant_slug", "audit_log", ["tenant_slug"], schema="platform")


def downgrade() -> None:
    op.drop_table("audit_log", schema="platform")
    op.drop_table("domains", schema="platform")
    op.drop_table("tenants", schema="platform")
