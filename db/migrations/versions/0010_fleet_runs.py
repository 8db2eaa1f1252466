"""Runs of one fleet (processes sharing a frontier) carry the fleet's id.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_runs") as batch:
        batch.add_column(sa.Column("fleet_id", sa.String(64)))
    op.create_index("ix_crawl_runs_fleet_id", "crawl_runs", ["fleet_id"])


def downgrade() -> None:
    op.drop_index("ix_crawl_runs_fleet_id", "crawl_runs")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("fleet_id")
