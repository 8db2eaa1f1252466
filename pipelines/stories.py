"""Stories stage: articles about the same event share a story, found by MinHash LSH over
story features (pipelines/storyfeatures.py) within a time window."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from crawler.rules import cache_dir, value
from crawler.store import CrawlStore
from db.base import STORY_LSH, StoreError
from db.records import StoryMatch
from db.store import Store
from pipelines.cleaning import CleaningPipeline
from pipelines.cputime import timed
from pipelines.lsh import build_index
from pipelines.signatures import (
    STORY_SEED,
    StoryFingerprint,
    StorySigner,
    band_keys,
    estimated_jaccard,
    permutations,
)
from pipelines.storage import StoragePipeline

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

META_KEY = "story_minhash"
# Set once every canonical article of the store has a story signature.
SIGNED_META = "story_signatures"
# Bands of two rows over every slot: story thresholds are low (about 0.2), where fewer,
# longer bands would miss pairs (at Jaccard 0.25, 64 bands of 2 of 128 slots find a pair
# 98 % of the time; datasketch's choice for 0.22, 36 bands of 2, 90 %). Candidates are
# verified on their estimated Jaccard, so the extra ones cost only a look-up.
ROWS_PER_BAND = 2


class StoryPipeline:
    """Gives each new canonical article the story of the stored canonical articles whose
    story features it shares (estimated Jaccard ≥ ``NEWS_STORY_THRESHOLD``) and whose date
    lies within ``NEWS_STORY_WINDOW_DAYS`` of its own; duplicates already carry their
    canonical's story. An article that matches several stories merges them into the oldest
    one (``story_merges`` records it). Stats: ``news/stories/new``, ``…/joined``,
    ``…/merged``.
    """

    def __init__(
        self,
        *,
        num_perm: int,
        threshold: float,
        window: timedelta,
        crawl_store: CrawlStore,
        cache_dir: Path | None = None,
        stats: StatsCollector | None = None,
    ) -> None:
        drawn = permutations(num_perm, STORY_SEED, cache_dir)
        self.signer = StorySigner(num_perm, drawn)
        self.threshold = threshold
        self.window = window
        self.crawl_store = crawl_store
        self.stats = stats
        self.store: Store | None = None
        self.layout = (num_perm // ROWS_PER_BAND, ROWS_PER_BAND)
        self.fingerprint = StoryFingerprint(num_perm, self.layout, drawn)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoryPipeline:
        settings = crawler.settings
        return cls(
            num_perm=value(settings, "NEWS_STORY_PERM"),
            threshold=value(settings, "NEWS_STORY_THRESHOLD"),
            window=timedelta(days=value(settings, "NEWS_STORY_WINDOW_DAYS")),
            crawl_store=CrawlStore.of(crawler, "StoryPipeline"),
            cache_dir=cache_dir(settings),
            stats=crawler.stats,
        )

    def open_spider(self) -> None:
        self.store = self.crawl_store.open_stage(
            "StoryPipeline", (CleaningPipeline, StoragePipeline), self.attach
        )

    def attach(self, store: Store) -> StoryFingerprint:
        """Check the store's story parameters, sign and index what it lacks. Returns the
        story fingerprint to make of every article, in the workers with the cleaning."""
        stored = store.get_meta(META_KEY)
        if stored is None:
            store.set_meta(META_KEY, self.signer.params_json())
        elif stored != self.signer.params_json():
            raise NotConfigured(
                f"the store at {store.display_url} has story signatures made with {stored}; "
                f"NEWS_STORY_PERM now gives {self.signer.params_json()}. Use the setting the "
                "store was built with, or a new store."
            )
        filled = self.backfill(store)
        built = build_index(store, STORY_LSH, self.layout, store.iter_story_signatures())
        if built is not None:
            logger.info("Story index built in the store for %d canonical articles", built)
        logger.info(
            "Stories: threshold %.2f, window %s, %d bands of %d rows; %d signatures computed now",
            self.threshold,
            self.window,
            *self.layout,
            filled,
        )
        return self.fingerprint

    def backfill(self, store: Store) -> int:
        """Story signatures for canonical articles stored before stories existed. Done once
        per store: afterwards every canonical article gets one when it is stored, or when
        `scrapy dupes --apply` makes it canonical, so later start-ups skip the scan."""
        if store.get_meta(SIGNED_META) is not None:
            return 0
        filled = 0
        indexed = store.get_meta(f"lsh_layout_{STORY_LSH}") is not None
        while batch := store.missing_story_signatures():
            for article_id, title, text in batch:
                signature = self.signer.sign(title, text)
                store.set_story_signature(article_id, signature)
                if indexed and signature:
                    store.add_buckets(STORY_LSH, article_id, band_keys(signature, self.layout))
            filled += len(batch)
            store.commit()
        store.set_meta(SIGNED_META, "all canonical articles")
        store.commit()
        return filled

    def close_spider(self) -> None:
        self.store = None

    @timed("stories")
    def process_item(self, item: ArticleItem) -> ArticleItem:
        store = self.store
        if store is None or item.dedup != "new":
            return item  # a duplicate has its canonical's story; storage handles a closed store
        # Made by the cleaning stage (StoryFingerprint), which drops an item without text.
        story = item.derived.stories
        assert story is not None
        item.story_signature, keys = story.signature, story.bands
        if not item.story_signature:
            if item.revision_of is not None:
                item.story_id = item.revision_of.story_id  # nothing to match: it stays
                return item
            self.inc("new")
            return item
        found = store.story_matches(keys)
        if item.revision_of is not None:
            return self.revise(store, item, found, keys)
        matches = self.matches(item, found)
        if matches:
            survivor = min(story for story, _ in matches)
            item.story_id = survivor
            item.story_similarity = max(similarity for _, similarity in matches)
            absorbed = {story for story, _ in matches} - {survivor}
            if absorbed:
                self.merge(store, item, survivor, absorbed, matches)
                logger.info(
                    "Stories %s merged into story %d, bridged by %s",
                    sorted(absorbed),
                    survivor,
                    item.url,
                )
                self.inc("merged", len(absorbed))
            self.inc("joined")
        else:
            self.inc("new")
        item.story_bands = keys  # storage indexes it with the article
        return item

    def revise(
        self, store: Store, item: ArticleItem, found: list[StoryMatch], keys: tuple[int, ...]
    ) -> ArticleItem:
        """A revision keeps its story, and merges into it (or it into) the stories its new
        text matches: a revision merges stories, never splits one."""
        revised = item.revision_of
        assert revised is not None
        own = store.resolve_story(revised.story_id) or revised.story_id
        matches = self.matches(item, [match for match in found if match.id != revised.id])
        stories = {own} | {story for story, _ in matches}
        item.story_id = min(stories)
        if matches:
            item.story_similarity = max(similarity for _, similarity in matches)
            self.merge(store, item, item.story_id, stories - {item.story_id}, matches)
            self.inc("merged", len(stories) - 1)
        item.story_bands = keys
        return item

    def merge(
        self,
        store: Store,
        item: ArticleItem,
        survivor: int,
        absorbed: set[int],
        matches: list[tuple[int, float]],
    ) -> None:
        try:
            store.merge_stories(
                survivor,
                absorbed,
                reason=f"bridged by {item.url}: "
                + ", ".join(f"story {s} at {sim:.3f}" for s, sim in matches),
                similarity=item.story_similarity,
                run_id=self.crawl_store.run_id,
            )
        except StoreError as exc:
            # As a failed article write: the open batch is rolled back and the run stops.
            self.crawl_store.fail(exc)
            self.inc_drop("store_error")
            raise DropItem(f"store_error: {item.url}: {exc}") from exc

    def matches(self, item: ArticleItem, found: list[StoryMatch]) -> list[tuple[int, float]]:
        """(story, best similarity) of each story with a member close enough in features and
        in time."""
        date: datetime = item.published_at or item.fetched_at
        signature = item.story_signature or b""
        best: dict[int, float] = {}
        for match in found:
            similarity = estimated_jaccard(signature, match.story_signature)
            if similarity >= self.threshold and abs(match.date - date) <= self.window:
                best[match.story_id] = max(similarity, best.get(match.story_id, 0.0))
        return sorted(best.items())

    def inc_drop(self, reason: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"news/dropped/{reason}")

    def inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"news/stories/{key}", count)
