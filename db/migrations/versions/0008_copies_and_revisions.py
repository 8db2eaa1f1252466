"""Kinds of copy and revisions: articles.canonical_url and articles.duplicate_kind (filled
for the rows already stored), the article_versions history, crawl_runs.items_revised, and
articles_dedup's count of syndications.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.sites import site_domain

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VIEW = """
CREATE VIEW articles_dedup AS
SELECT
    a.id, a.url, a.source, a.title, a.author, a.site_name, a.text, a.published_at,
    a.language, a.fetched_at, a.story_id, a.run_id, a.canonical_url,
    (SELECT COUNT(*) FROM articles d WHERE d.duplicate_of = a.id) AS duplicate_count,
    (SELECT COUNT(*) FROM articles d
     WHERE d.duplicate_of = a.id AND d.duplicate_kind = 'syndicated') AS syndications
FROM articles a
WHERE a.duplicate_of IS NULL
"""
OLD_VIEW = """
CREATE VIEW articles_dedup AS
SELECT
    a.id, a.url, a.source, a.title, a.author, a.site_name, a.text, a.published_at,
    a.language, a.fetched_at, a.story_id, a.run_id,
    (SELECT COUNT(*) FROM articles d WHERE d.duplicate_of = a.id) AS duplicate_count
FROM articles a
WHERE a.duplicate_of IS NULL
"""


def upgrade() -> None:
    op.execute("DROP VIEW articles_dedup")
    op.add_column("articles", sa.Column("canonical_url", sa.Text))
    op.add_column("articles", sa.Column("duplicate_kind", sa.String(16)))
    op.add_column(
        "crawl_runs",
        sa.Column("items_revised", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "article_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("fetched_at", sa.DateTime, nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("duplicate_of", sa.Integer),
        sa.Column("story_id", sa.Integer),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("crawl_runs.id")),
        sa.Column("change", sa.String(16), nullable=False),
    )
    op.create_index(
        "ix_article_versions_article_id_version",
        "article_versions",
        ["article_id", "version"],
        unique=True,
    )
    fill_duplicate_kinds()
    op.execute(VIEW)


def fill_duplicate_kinds() -> None:
    """The kind of every copy already stored: by its site against its canonical's."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT d.id, d.url, d.content_hash, c.url, c.content_hash FROM articles d "
            "JOIN articles c ON c.id = d.duplicate_of"
        )
    ).all()
    update = sa.text("UPDATE articles SET duplicate_kind = :kind WHERE id = :id")
    kinds = []
    for article, url, content_hash, canonical, canonical_hash in rows:
        if site_domain(url) != site_domain(canonical):
            kind = "syndicated"
        else:
            kind = "exact" if content_hash == canonical_hash else "near"
        kinds.append({"kind": kind, "id": article})
    if kinds:
        conn.execute(update, kinds)


def downgrade() -> None:
    op.execute("DROP VIEW articles_dedup")
    op.drop_index("ix_article_versions_article_id_version", "article_versions")
    op.drop_table("article_versions")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("items_revised")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("duplicate_kind")
        batch.drop_column("canonical_url")
    op.execute(OLD_VIEW)
