"""Same-story grouping: story signatures, merges between stories, maintained story counts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# One row per live story (absorbed ones point at their survivor and are left out).
STORIES_DEDUP = """
CREATE VIEW stories_dedup AS
SELECT
    s.id AS story_id, s.canonical_id, c.title, c.url, c.published_at, c.language,
    s.article_count AS articles, s.source_count AS sources, s.first_seen, s.last_seen
FROM stories s
JOIN articles c ON c.id = s.canonical_id
WHERE s.merged_into IS NULL
"""

# The 0002 view, for downgrades.
OLD_STORIES_DEDUP = """
CREATE VIEW stories_dedup AS
SELECT
    s.id AS story_id, c.id AS canonical_id, c.title, c.url, c.published_at, c.language,
    COUNT(a.id) AS articles, COUNT(DISTINCT a.source) AS sources,
    MIN(a.fetched_at) AS first_seen, MAX(a.fetched_at) AS last_seen
FROM stories s
JOIN articles c ON c.id = s.canonical_id
JOIN articles a ON a.story_id = s.id
GROUP BY s.id, c.id
"""

REFRESH_COUNTS = """
UPDATE stories SET
    article_count = (SELECT COUNT(*) FROM articles a WHERE a.story_id = stories.id),
    source_count = (SELECT COUNT(DISTINCT a.source) FROM articles a WHERE a.story_id = stories.id),
    first_seen = (SELECT MIN(a.fetched_at) FROM articles a WHERE a.story_id = stories.id),
    last_seen = (SELECT MAX(a.fetched_at) FROM articles a WHERE a.story_id = stories.id)
"""


def upgrade() -> None:
    op.execute("DROP VIEW stories_dedup")
    # Plain ADD COLUMNs: SQLite's batch mode would copy and drop `stories`, which the foreign
    # keys of `articles` forbid while they are enforced.
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with a reference in place; Alembic only offers batch mode.
        op.execute(
            "ALTER TABLE stories ADD COLUMN merged_into INTEGER "
            "CONSTRAINT fk_stories_merged_into REFERENCES stories (id)"
        )
    else:
        op.add_column("stories", sa.Column("merged_into", sa.Integer))
        op.create_foreign_key(
            "fk_stories_merged_into", "stories", "stories", ["merged_into"], ["id"]
        )
    op.add_column(
        "stories", sa.Column("article_count", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column(
        "stories", sa.Column("source_count", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("stories", sa.Column("first_seen", sa.DateTime))
    op.add_column("stories", sa.Column("last_seen", sa.DateTime))
    op.create_index("ix_stories_merged_into", "stories", ["merged_into"])
    # NULL: not computed yet (duplicates, and articles stored before this revision).
    op.add_column("articles", sa.Column("story_signature", sa.LargeBinary))
    op.add_column("articles", sa.Column("story_similarity", sa.Float))
    op.create_table(
        "story_merges",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("absorbed_id", sa.Integer, sa.ForeignKey("stories.id"), nullable=False),
        sa.Column("survivor_id", sa.Integer, sa.ForeignKey("stories.id"), nullable=False),
        sa.Column("merged_at", sa.DateTime, nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("similarity", sa.Float),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_story_merges_absorbed_id", "story_merges", ["absorbed_id"])
    op.execute(REFRESH_COUNTS)
    op.execute(STORIES_DEDUP)


def downgrade() -> None:
    op.execute("DROP VIEW stories_dedup")
    op.drop_index("ix_story_merges_absorbed_id", "story_merges")
    op.drop_table("story_merges")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("story_similarity")
        batch.drop_column("story_signature")
    with op.batch_alter_table("stories") as batch:
        batch.drop_index("ix_stories_merged_into")
        batch.drop_constraint("fk_stories_merged_into", type_="foreignkey")
        for column in ("last_seen", "first_seen", "source_count", "article_count", "merged_into"):
            batch.drop_column(column)
    op.execute(OLD_STORIES_DEDUP)
