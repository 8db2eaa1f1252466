"""Initial schema: articles, stories, crawl_runs, news_meta and the articles_dedup view.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crawl_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("spider", sa.String(100), nullable=False),
        sa.Column("arguments", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("finished_at", sa.DateTime),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("finish_reason", sa.String(100)),
        sa.Column("items_new", sa.Integer, nullable=False),
        sa.Column("items_exact_duplicate", sa.Integer, nullable=False),
        sa.Column("items_near_duplicate", sa.Integer, nullable=False),
        sa.Column("items_already_stored", sa.Integer, nullable=False),
        sa.Column("items_dropped", sa.Integer, nullable=False),
        sa.Column("dropped_reasons", sa.Text, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
    )
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("canonical_id", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.Text, nullable=False, unique=True),
        sa.Column("source", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("author", sa.Text),
        sa.Column("site_name", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime),
        sa.Column("language", sa.String(16)),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("duplicate_of", sa.Integer, sa.ForeignKey("articles.id")),
        sa.Column("similarity", sa.Float),
        sa.Column("story_id", sa.Integer, sa.ForeignKey("stories.id"), nullable=False),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
    )
    op.create_index("ix_articles_content_hash", "articles", ["content_hash"])
    op.create_index("ix_articles_duplicate_of", "articles", ["duplicate_of"])
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    op.create_index("ix_articles_published_at", "articles", ["published_at"])
    with op.batch_alter_table("stories") as batch:
        batch.create_foreign_key("fk_stories_canonical_id", "articles", ["canonical_id"], ["id"])
    op.create_table(
        "news_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.execute(
        """
        CREATE VIEW articles_dedup AS
        SELECT
            a.id, a.url, a.source, a.title, a.author, a.site_name, a.text, a.published_at,
            a.language, a.fetched_at, a.story_id, a.run_id,
            (SELECT COUNT(*) FROM articles d WHERE d.duplicate_of = a.id) AS duplicate_count
        FROM articles a
        WHERE a.duplicate_of IS NULL
        """
    )


def downgrade() -> None:
    op.execute("DROP VIEW articles_dedup")
    op.drop_table("news_meta")
    op.drop_table("articles")
    op.drop_table("stories")
    op.drop_table("crawl_runs")
