"""tenant: payments and the provider events already applied to them

Revision ID: t0009
Revises: t0008
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0009"
down_revision: str | None = "t0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id"), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        # VND has no minor unit: amount_vnd is the amount the citizen pays, never × 100.
        sa.Column("amount_vnd", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False, server_default="vnd"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_ref", sa.String(100)),  # checkout session id
        sa.Column("provider_payment_ref", sa.String(100)),  # payment intent id
        sa.Column("account", sa.String(100), nullable=False),  # the locality's connected account
        # The portal origin the checkout returns to: a retried provider call must send the
        # very same parameters, or the provider's idempotency check refuses it.
        sa.Column("origin", sa.String(300), nullable=False, server_default=""),
        sa.Column("review_reason", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("amount_vnd > 0", name="positive"),
        sa.CheckConstraint(
            "status IN ('created', 'started', 'succeeded', 'failed', 'cancelled', 'expired', 'refunded', "
            "'review')",
            name="status",
        ),
    )
    op.create_index("ix_payments_dossier_id", "payments", ["dossier_id"])
    op.create_index("ix_payments_provider_ref", "payments", ["provider_ref"], unique=True)
    # An event is applied once: its id is inserted in the same transaction as its effect.
    op.create_table(
        "payment_events",
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("payment_id", sa.BigInteger, sa.ForeignKey("payments.id")),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("payment_events")
    op.drop_table("payments")
