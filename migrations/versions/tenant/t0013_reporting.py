"""tenant: service-quality indicators — daily rollups, the current backlog, the refresh state
and published (frozen) periods

Revision ID: t0013
Revises: t0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "t0013"
down_revision: str | None = "t0012"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# The counters of one (day, procedure, channel); reporting.rollups says what each one counts.
COUNTERS = (
    "received",
    "received_online",
    "online_by_citizen",
    "finished",
    "finished_on_time",
    "finished_late",
    "withdrawn",
    "refused",
    "with_fees",
    "paid_online",
    "digitised",
    "ratings",
    "rating_sum",
    "rating_1",
    "rating_2",
    "rating_3",
    "rating_4",
    "rating_5",
    "feedback",
    "feedback_on_time",
)


def upgrade() -> None:
    # One row per Vietnam-time day, procedure and channel. Feedback not tied to a dossier is kept
    # under procedure 0 and channel 0 (no foreign key, for that reason).
    op.create_table(
        "reporting_days",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("procedure_id", sa.BigInteger, primary_key=True),
        sa.Column("channel", sa.SmallInteger, primary_key=True),
        *(sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in COUNTERS),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # Dossiers in process now and those of them already overdue: a figure of the moment, not of
    # a day (it cannot be recomputed for a past day), so it is kept apart and replaced each run.
    op.create_table(
        "reporting_backlog",
        sa.Column("procedure_id", sa.BigInteger, primary_key=True),
        sa.Column("channel", sa.SmallInteger, primary_key=True),
        sa.Column("in_process", sa.Integer, nullable=False),
        sa.Column("overdue", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # The refresh job's state: changes after ``watermark`` are still to be looked at, the days
    # in ``pending`` still to be recomputed (a crashed run resumes with them).
    op.create_table(
        "reporting_state",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("watermark", sa.DateTime(timezone=True)),
        sa.Column("pending", ARRAY(sa.Date), nullable=False, server_default="{}"),
        sa.Column("refreshed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("id = 1", name="one_row"),
    )
    op.execute("INSERT INTO reporting_state (id) VALUES (1)")
    op.create_table(
        "reporting_published",
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("figures", JSONB, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
    )
    # A published period is what the locality announced: the database itself refuses changes.
    op.execute(
        """
        CREATE FUNCTION reporting_published_is_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'published figures are frozen';
        END $$;
        CREATE TRIGGER reporting_published_frozen BEFORE UPDATE OR DELETE ON reporting_published
            FOR EACH ROW EXECUTE FUNCTION reporting_published_is_frozen();
        """
    )
    # What the refresh job scans: changes since its watermark, and whole days by time.
    op.create_index("ix_dossiers_updated_at", "dossiers", ["updated_at"])
    op.create_index("ix_dossiers_received_at", "dossiers", ["received_at"])
    op.create_index("ix_dossier_history_at", "dossier_history", ["at"])
    op.create_index("ix_payments_updated_at", "payments", ["updated_at"])
    op.create_index("ix_dossier_files_created_at", "dossier_files", ["created_at"])
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])


def downgrade() -> None:
    for index, table in (
        ("ix_feedback_received_at", "feedback"),
        ("ix_dossier_files_created_at", "dossier_files"),
        ("ix_payments_updated_at", "payments"),
        ("ix_dossier_history_at", "dossier_history"),
        ("ix_dossiers_received_at", "dossiers"),
        ("ix_dossiers_updated_at", "dossiers"),
    ):
        op.drop_index(index, table_name=table)
    op.drop_table("reporting_published")
    op.execute("DROP FUNCTION reporting_published_is_frozen()")
    op.drop_table("reporting_state")
    op.drop_table("reporting_backlog")
    op.drop_table("reporting_days")
