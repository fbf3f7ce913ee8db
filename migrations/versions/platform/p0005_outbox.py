"""platform: the transactional outbox of after-commit jobs

Revision ID: p0005
Revises: p0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "p0005"
down_revision: str | None = "p0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # One table for every tenant: a job is written in the same transaction as the change that
    # asks for it (tenant transactions see `platform` on their search_path), and the relay scans
    # one small index of unsent rows instead of a thousand schemas.
    op.execute(
        """
        CREATE TABLE platform.outbox (
            id bigserial PRIMARY KEY,
            created_at timestamptz NOT NULL DEFAULT now(),
            tenant_slug varchar(31),
            queue_name varchar(64) NOT NULL,
            actor_name varchar(128) NOT NULL,
            kwargs jsonb NOT NULL DEFAULT '{}'::jsonb,
            sent_at timestamptz,
            attempts integer NOT NULL DEFAULT 0,
            last_error text
        )
        """
    )
    op.execute("CREATE INDEX ix_outbox_unsent ON platform.outbox (id) WHERE sent_at IS NULL")


def downgrade() -> None:
    op.execute("DROP TABLE platform.outbox")
