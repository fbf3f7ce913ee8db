"""tenant: receipts, refunds and daily payment reports

Revision ID: t0010
Revises: t0009
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "t0010"
down_revision: str | None = "t0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Additive with defaults: safe while the previous release still serves.
    op.add_column("payments", sa.Column("method", sa.String(10), nullable=False, server_default="online"))
    op.add_column("payments", sa.Column("refunded_vnd", sa.BigInteger, nullable=False, server_default="0"))
    op.add_column(
        "payments", sa.Column("platform_fee_vnd", sa.BigInteger, nullable=False, server_default="0")
    )
    # The line item as first sent to the provider (the procedure's fee): a retry must send the
    # same, even if the catalogue changed meanwhile.
    op.add_column("payments", sa.Column("item_name", sa.String(300), nullable=False, server_default=""))
    # Where the citizen pays: a second click (or tab) goes back to the same open checkout.
    op.add_column("payments", sa.Column("checkout_url", sa.String(2000)))
    op.create_check_constraint("refund_within_amount", "payments", "refunded_vnd BETWEEN 0 AND amount_vnd")
    op.create_check_constraint("method", "payments", "method IN ('online', 'cash', 'pos')")
    # At most one succeeded payment per dossier: two tabs paying at once cannot both count (the
    # second goes to review for a refund; this index is the backstop).
    op.create_index(
        "ux_payments_one_success",
        "payments",
        ["dossier_id"],
        unique=True,
        postgresql_where=sa.text("status = 'succeeded'"),
    )

    # Receipts (biên lai điện tử): numbered without gaps per series (one series a year), a
    # snapshot of what was paid, never changed afterwards.
    op.create_table(
        "receipt_sequences",
        sa.Column("series", sa.String(20), primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("series", sa.String(20), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("payment_id", sa.BigInteger, sa.ForeignKey("payments.id"), nullable=False, unique=True),
        sa.Column("dossier_id", sa.BigInteger, sa.ForeignKey("dossiers.id"), nullable=False),
        sa.Column("citizen_id", sa.BigInteger, sa.ForeignKey("citizens.id"), nullable=False),
        sa.Column("issuer_name", sa.String(300), nullable=False),
        sa.Column("dossier_code", sa.String(80), nullable=False),
        sa.Column("procedure_name", sa.String(300), nullable=False),
        sa.Column("payer_name", sa.String(200), nullable=False),
        sa.Column("payer_personal_id_masked", sa.String(12), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger, nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("provider_payment_ref", sa.String(100)),
        sa.Column("collected_by", sa.String(12)),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("series", "number"),
        sa.CheckConstraint("amount_vnd > 0", name="positive"),
    )
    op.create_index("ix_receipts_citizen_id", "receipts", ["citizen_id"])
    op.create_index("ix_receipts_dossier_id", "receipts", ["dossier_id"])
    op.execute(
        """
        CREATE FUNCTION receipts_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'an issued receipt is never changed or deleted';
        END $$;
        CREATE TRIGGER receipts_immutable BEFORE UPDATE OR DELETE ON receipts
            FOR EACH ROW EXECUTE FUNCTION receipts_are_immutable();
        """
    )

    # The receipt's PDF, drawn once after the receipt is committed and kept in the tenant's
    # storage (its checksum beside it): downloads are file reads, and the document never changes.
    op.create_table(
        "receipt_files",
        sa.Column("receipt_id", sa.BigInteger, sa.ForeignKey("receipts.id"), primary_key=True),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )

    # Refunds: committed as 'pending' before the provider is asked (idempotency key from the id),
    # so a crash in between is finished by reconciliation, never refunded twice.
    op.create_table(
        "refunds",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("payment_id", sa.BigInteger, sa.ForeignKey("payments.id"), nullable=False),
        sa.Column("amount_vnd", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("officer", sa.String(12), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("provider_ref", sa.String(100)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("amount_vnd > 0", name="positive"),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
    )
    op.create_index("ix_refunds_payment_id", "refunds", ["payment_id"])

    op.create_table(
        "payment_daily_reports",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("totals", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("payment_daily_reports")
    op.drop_table("refunds")
    op.drop_table("receipt_files")
    op.drop_table("receipts")
    op.execute("DROP FUNCTION receipts_are_immutable()")
    op.drop_table("receipt_sequences")
    op.drop_index("ux_payments_one_success", "payments")
    op.drop_column("payments", "checkout_url")
    op.drop_column("payments", "item_name")
    op.drop_column("payments", "platform_fee_vnd")
    op.drop_column("payments", "refunded_vnd")
    op.drop_column("payments", "method")
