"""The ledger of article URLs seen and not stored, so that a cron run does not fetch them
again until they are due.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "urls",
        sa.Column("url", sa.Text, primary_key=True),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("first_attempt", sa.DateTime, nullable=False),
        sa.Column("last_attempt", sa.DateTime, nullable=False),
        sa.Column("listed_at", sa.DateTime),
    )
    op.create_index("ix_urls_reason", "urls", ["reason"])


def downgrade() -> None:
    op.drop_index("ix_urls_reason", "urls")
    op.drop_table("urls")
