"""tenant: how the applicant receives the result (at the desk, by post, online) and, by post, the
address — on the draft while applying and on the dossier once submitted

Revision ID: t0014
Revises: t0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0014"
down_revision: str | None = "t0013"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

METHODS = "delivery_method IN ('desk', 'post', 'online')"


def upgrade() -> None:
    # Every dossier so far is collected at the desk (the only way the portal offered), as is
    # every dossier received at the desk from now on unless the officer records otherwise.
    op.add_column(
        "dossiers",
        sa.Column("delivery_method", sa.String(12), nullable=False, server_default="desk"),
    )
    op.add_column("dossiers", sa.Column("postal_address", sa.Text))
    op.create_check_constraint("delivery_method", "dossiers", METHODS)
    op.create_check_constraint(
        "postal_address", "dossiers", "delivery_method <> 'post' OR postal_address IS NOT NULL"
    )
    # A draft has none until the applicant chooses (the task list shows the step as not done).
    op.add_column("dossier_drafts", sa.Column("delivery_method", sa.String(12)))
    op.add_column("dossier_drafts", sa.Column("postal_address", sa.Text))
    op.create_check_constraint("delivery_method", "dossier_drafts", METHODS)


def downgrade() -> None:
    op.drop_constraint("delivery_method", "dossier_drafts", type_="check")
    op.drop_column("dossier_drafts", "postal_address")
    op.drop_column("dossier_drafts", "delivery_method")
    op.drop_constraint("postal_address", "dossiers", type_="check")
    op.drop_constraint("delivery_method", "dossiers", type_="check")
    op.drop_column("dossiers", "postal_address")
    op.drop_column("dossiers", "delivery_method")
