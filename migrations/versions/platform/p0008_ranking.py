"""platform: every tenant's Decision 766 index per period (kept by the reporting job) for the
console's ranking, and the rankings the platform published (frozen)

Revision ID: p0008
Revises: p0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "p0008"
down_revision: str | None = "p0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

RATES = (
    "full_online_rate",
    "online_dossier_rate",
    "on_time_rate",
    "online_payment_rate",
    "digitisation_rate",
    "satisfied_rate",
)


def upgrade() -> None:
    # New tables only (expand step). One row per tenant and period, written by each tenant's
    # reporting job: the console ranks a thousand tenants from this table in one query instead
    # of opening a thousand schemas. The primary key leads with the period, the ranking's filter.
    op.create_table(
        "tenant_indicators",
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.BigInteger,
            sa.ForeignKey("platform.tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("index_total", sa.Numeric(6, 2), nullable=False),
        sa.Column("index_version", sa.Integer, nullable=False),
        sa.Column("group_points", JSONB, nullable=False),
        sa.Column("received", sa.Integer, nullable=False),
        *(sa.Column(rate, sa.Float) for rate in RATES),
        sa.Column("provisional", sa.Boolean, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema="platform",
    )
    op.create_index("ix_tenant_indicators_tenant_id", "tenant_indicators", ["tenant_id"], schema="platform")
    op.create_table(
        "published_rankings",
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("index_version", sa.Integer, nullable=False),
        sa.Column("groups", JSONB, nullable=False),
        sa.Column("rows", JSONB, nullable=False),
        # slug → place, and how many were ranked: a tenant's public page reads its place without
        # reading every row.
        sa.Column("places", JSONB, nullable=False),
        sa.Column("ranked", sa.Integer, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        schema="platform",
    )
    # A published ranking is what the platform announced: the database itself refuses changes.
    op.execute(
        """
        CREATE FUNCTION platform.published_ranking_is_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'a published ranking is frozen';
        END $$;
        CREATE TRIGGER published_ranking_frozen BEFORE UPDATE OR DELETE ON platform.published_rankings
            FOR EACH ROW EXECUTE FUNCTION platform.published_ranking_is_frozen();
        """
    )


def downgrade() -> None:
    op.drop_table("published_rankings", schema="platform")
    op.execute("DROP FUNCTION platform.published_ranking_is_frozen()")
    op.drop_index("ix_tenant_indicators_tenant_id", table_name="tenant_indicators", schema="platform")
    op.drop_table("tenant_indicators", schema="platform")
