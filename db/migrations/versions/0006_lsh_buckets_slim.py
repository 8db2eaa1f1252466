"""The LSH indexes lose their index on article_id: it took as much room as the table, and an
article leaves an index by its band keys, which its stored signature gives.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_lsh_buckets_article_id", "lsh_buckets")


def downgrade() -> None:
    op.create_index("ix_lsh_buckets_article_id", "lsh_buckets", ["article_id"])
