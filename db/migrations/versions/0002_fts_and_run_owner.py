"""Full-text search (SQLite FTS5), the owner (pid, host) of each run, the stories_dedup view.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FTS_SQL = [
    # An external-content index: the text is stored once, in articles.
    "CREATE VIRTUAL TABLE articles_fts USING fts5("
    "title, text, content='articles', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    # Index what an older store already holds.
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]


STORIES_DEDUP = """
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


def upgrade() -> None:
    op.add_column("crawl_runs", sa.Column("pid", sa.Integer))
    op.add_column("crawl_runs", sa.Column("hostname", sa.String(255)))
    op.execute(STORIES_DEDUP)
    if op.get_bind().dialect.name == "sqlite":
        for statement in FTS_SQL:
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP VIEW stories_dedup")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER articles_fts_{name}")
        op.execute("DROP TABLE articles_fts")
    with op.batch_alter_table("crawl_runs") as batch:
        batch.drop_column("hostname")
        batch.drop_column("pid")
