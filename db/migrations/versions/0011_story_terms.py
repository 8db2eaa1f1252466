"""Story decisions on TF-IDF term vectors: each canonical article's terms, each story's
centroid, and the document frequency of every term.

Stores signed with the earlier story features are signed again by the stories stage at its
next start (pipelines/stories.py); their stories keep their ids.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("story_terms", sa.LargeBinary))
        batch.add_column(sa.Column("story_evidence", sa.Text))
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("centroid", sa.LargeBinary))
    op.create_table(
        "term_counts",
        sa.Column("term", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("articles", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("term_counts")
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("centroid")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("story_evidence")
        batch.drop_column("story_terms")
