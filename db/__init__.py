"""The newsdedup store: SQLAlchemy models, engine set-up, migrations and queries (no Scrapy)."""

from db.engine import make_engine
from db.models import Article, Base, CrawlRun, Meta, Story, StoryMerge
from db.store import (
    ArticleRecord,
    CanonicalMatch,
    Store,
    StoreBusy,
    StoreError,
    StoryMatch,
)

__all__ = [
    "Article",
    "ArticleRecord",
    "Base",
    "CanonicalMatch",
    "CrawlRun",
    "Meta",
    "Store",
    "StoreBusy",
    "StoreError",
    "Story",
    "StoryMatch",
    "StoryMerge",
    "make_engine",
]
