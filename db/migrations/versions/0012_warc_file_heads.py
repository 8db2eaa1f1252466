"""What identifies a WARC file's content: ``warc_files.head``, the digest of its first
bytes, so that a file replaced under its name is read anew, not skipped or resumed.

Rows from before it have no digest; their files are known by name and size, as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("warc_files") as batch:
        batch.add_column(sa.Column("head", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("warc_files") as batch:
        batch.drop_column("head")
