"""The LSH indexes in the store: one row per band of each canonical article's signature.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by the next crawl (it indexes the canonical articles it finds unindexed).
    op.create_table(
        "lsh_buckets",
        sa.Column("lsh", sa.SmallInteger, primary_key=True),
        sa.Column("band_key", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), primary_key=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_lsh_buckets_article_id", "lsh_buckets", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_lsh_buckets_article_id", "lsh_buckets")
    op.drop_table("lsh_buckets")
