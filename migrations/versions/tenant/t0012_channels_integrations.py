"""tenant: every channel (desk, post, national portal) and the integration API — who submitted a
dossier and from which system, digitised documents, API clients, webhook subscriptions and their
delivery log

Revision ID: t0012
Revises: t0011
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0012"
down_revision: str | None = "t0011"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Additive, with defaults that describe every dossier so far (online, by the citizen).
    op.add_column(
        "dossiers",
        sa.Column("submitted_by_citizen", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    # The system a dossier came from and its id there: the same (system, id) is one dossier.
    op.add_column("dossiers", sa.Column("source_system", sa.String(64)))
    op.add_column("dossiers", sa.Column("external_id", sa.String(128)))
    op.create_index(
        "ux_dossiers_external",
        "dossiers",
        ["source_system", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    # The national public-service portal is a fourth channel (models.Channel.NATIONAL_PORTAL).
    op.drop_constraint("channel", "dossiers", type_="check")
    op.create_check_constraint("channel", "dossiers", "channel IN (1, 2, 3, 4)")
    # Decree 107/2021: a paper document scanned at the desk is digitised.
    op.add_column(
        "dossier_files", sa.Column("digitised", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.create_table(
        "api_clients",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        # The source system its dossiers are recorded under (e.g. "dvcqg").
        sa.Column("source_system", sa.String(64), nullable=False),
        # sha256 of a 256-bit random secret: shown once, never stored in clear.
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("rotated_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.add_column("dossiers", sa.Column("intake_client_id", sa.BigInteger, sa.ForeignKey("api_clients.id")))
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("client_id", sa.BigInteger, sa.ForeignKey("api_clients.id"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        # The signing secret (Standard Webhooks "whsec_…"), sealed at rest.
        sa.Column("secret_sealed", sa.Text, nullable=False),
        # False: only dossiers this client submitted; True: every dossier (needs the scope).
        sa.Column("all_dossiers", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "subscription_id", sa.BigInteger, sa.ForeignKey("webhook_subscriptions.id"), nullable=False
        ),
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id"), nullable=False),
        # The Standard Webhooks message id: the receiver's idempotency key.
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # Deliveries go out in order per (subscription, dossier): the next pending one of each pair.
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["subscription_id", "dossier_id", "id"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
    op.drop_column("dossiers", "intake_client_id")
    op.drop_table("api_clients")
    op.drop_column("dossier_files", "digitised")
    op.drop_index("ux_dossiers_external", table_name="dossiers")
    op.drop_constraint("channel", "dossiers", type_="check")
    op.create_check_constraint("channel", "dossiers", "channel IN (1, 2, 3)")
    for column in ("external_id", "source_system", "submitted_by_citizen"):
        op.drop_column("dossiers", column)
