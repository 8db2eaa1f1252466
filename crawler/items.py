"""The item that travels spider → cleaning → dedup → stories → storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal


@dataclass
class ArticleItem:
    """One document; each stage fills in its own fields.

    Spider: url, source, kind, raw, fetched_at (and metadata it already knows).
    Cleaning: title, text, author, site_name, published_at, language, and ``derived``: what
    later stages asked it to compute from the cleaned text (see CleaningPipeline.derive).
    Dedup: content_hash, signature, duplicate_of, similarity, story_id, dedup.
    Stories: story_id (of a canonical article), story_signature, story_similarity.
    Storage: id.
    """

    url: str
    kind: Literal["html", "text"]
    raw: str
    fetched_at: datetime
    source: str | None = None
    title: str | None = None
    text: str = ""
    author: str | None = None
    site_name: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    derived: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    signature: bytes = b""
    duplicate_of: int | None = None
    similarity: float | None = None
    story_id: int | None = None
    # "new", "exact" or "near": how dedup classified the item.
    dedup: str = ""
    story_signature: bytes | None = None
    story_similarity: float | None = None
    # LSH band keys of a canonical article's signatures, indexed with it by storage.
    dedup_bands: tuple[int, ...] = ()
    story_bands: tuple[int, ...] = ()
    id: int | None = None
