"""Stories stage: articles about the same event share a story. MinHash LSH over each
article's strongest story terms (pipelines/storyfeatures.py) finds the stories it may
belong to; the TF-IDF cosine of its terms to each story's centroid decides
(pipelines/storyvectors.py)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from crawler.rules import cache_dir, value
from crawler.store import CrawlStore
from db.base import STORY_LSH, StoreError
from db.records import DOCUMENTS_KEY, StoryMatch
from db.store import Store
from pipelines.cleaning import CleaningPipeline
from pipelines.cputime import timed
from pipelines.lsh import build_index
from pipelines.signatures import STORY_SEED, StoryFingerprint, StorySigner, band_keys, permutations
from pipelines.storage import StoragePipeline
from pipelines.storyvectors import (
    CentroidNorms,
    Vector,
    add_to_centroid,
    article_vector,
    idf_weights,
    pack,
    shared_cosine,
    term_key,
    unpack,
    weighted,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

META_KEY = "story_minhash"
# Set once every canonical article of the store has a story signature.
SIGNED_META = "story_signatures"
# Bands of two rows over every slot: reports of one event share few of their strongest
# terms (a Jaccard of 0.15 to 0.3), where fewer, longer bands would miss them (at 0.25,
# 64 bands of 2 of 128 slots find a pair 98 % of the time; 42 bands of 3, 48 %). Each
# candidate costs one centroid comparison.
ROWS_PER_BAND = 2
# Shared terms named in an article's story evidence.
EVIDENCE_TERMS = 6
# Candidate stories compared per article, those with the most members found first.
MAX_CANDIDATE_STORIES = 16


@dataclass(frozen=True)
class StoryScore:
    """How close an article is to one story: the cosine, and the shared terms' shares."""

    story: int
    score: float
    shared: dict[int, float]
    centroid: Vector


class StoryPipeline:
    """Gives each new canonical article the story whose centroid its terms are closest to
    (TF-IDF cosine ≥ ``NEWS_STORY_THRESHOLD``), among the stories of the stored canonical
    articles that LSH finds and whose date lies within ``NEWS_STORY_WINDOW_DAYS`` of its
    own; duplicates already carry their canonical's story. Another story the article also
    matches is merged with it only when the two stories' centroids are themselves close
    (cosine ≥ ``NEWS_STORY_MERGE_THRESHOLD``): evidence of story against story, so one
    article never chains two unrelated stories. The oldest story survives a merge
    (``story_merges`` records it). Stats: ``news/stories/new``, ``…/joined``,
    ``…/merged``, and ``…/candidates`` (candidate stories compared, at most 16 an article).
    """

    def __init__(
        self,
        *,
        num_perm: int,
        threshold: float,
        merge_threshold: float,
        window: timedelta,
        crawl_store: CrawlStore,
        cache_dir: Path | None = None,
        stats: StatsCollector | None = None,
    ) -> None:
        drawn = permutations(num_perm, STORY_SEED, cache_dir)
        self.signer = StorySigner(num_perm, drawn, cache_dir)
        self.threshold = threshold
        self.merge_threshold = merge_threshold
        self.window = window
        self.crawl_store = crawl_store
        self.stats = stats
        self.store: Store | None = None
        self.layout = (num_perm // ROWS_PER_BAND, ROWS_PER_BAND)
        self.fingerprint = StoryFingerprint(num_perm, self.layout, drawn, cache_dir)
        self.norms = CentroidNorms()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoryPipeline:
        settings = crawler.settings
        return cls(
            num_perm=value(settings, "NEWS_STORY_PERM"),
            threshold=value(settings, "NEWS_STORY_THRESHOLD"),
            merge_threshold=value(settings, "NEWS_STORY_MERGE_THRESHOLD"),
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
        if stored is not None and stored != self.signer.params_json() and self.resign(stored):
            store.forget_story_terms([META_KEY, SIGNED_META, f"lsh_layout_{STORY_LSH}"])
            store.commit()
            logger.info("Story features changed since %s: signing the store again", stored)
            stored = None
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
            "Stories: threshold %.2f, merges at %.2f, window %s, %d bands of %d rows; "
            "%d signatures computed now",
            self.threshold,
            self.merge_threshold,
            self.window,
            *self.layout,
            filled,
        )
        return self.fingerprint

    def resign(self, stored: str) -> bool:
        """Whether a store signed with STORED parameters differs from ours only in the story
        features' version: it is then signed again, where another NEWS_STORY_PERM is refused."""
        try:
            theirs = json.loads(stored)
        except ValueError:
            return False
        ours = json.loads(self.signer.params_json())
        return isinstance(theirs, dict) and {**theirs, "features": ours["features"]} == ours

    def backfill(self, store: Store) -> int:
        """Story signatures, terms, term counts and centroids for canonical articles stored
        before stories existed, or signed with other story features. Done once per store:
        afterwards every canonical article gets them when it is stored, or when `scrapy dupes
        --apply` makes it canonical, so later start-ups skip the scan. Stories keep their
        members."""
        if store.get_meta(SIGNED_META) is not None:
            return 0
        filled = 0
        indexed = store.get_meta(f"lsh_layout_{STORY_LSH}") is not None
        while batch := store.missing_story_signatures():
            added: dict[int, list[Vector]] = {}
            for article_id, title, text, language, story_id in batch:
                signature, terms = self.signer.sign(title, text, language)
                vector = article_vector(terms)
                store.set_story_signature(article_id, signature, pack(vector) if vector else None)
                if vector:  # as a stored article: one without terms is not counted
                    store.count_terms(vector)
                added.setdefault(story_id, []).append(vector)
                if indexed and signature:
                    store.add_buckets(STORY_LSH, article_id, band_keys(signature, self.layout))
            centroids = {sid: unpack(blob) for sid, blob in store.centroids(added).items()}
            for story_id, vectors in added.items():
                centroid = centroids.get(story_id, {})
                for vector in vectors:
                    centroid = add_to_centroid(centroid, vector)
                centroids[story_id] = centroid
            store.set_centroids({sid: pack(c) for sid, c in centroids.items()})
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
        vector = story.vector
        item.story_terms = pack(vector) if vector else None
        item.story_term_keys = tuple(vector)
        item.story_bands = keys  # storage indexes it with the article
        if item.revision_of is not None:
            return self.revise(store, item, vector, story.terms, store.story_matches(keys))
        scores = self.scores(store, item, vector, store.story_matches(keys))
        if not scores:
            item.story_centroid = item.story_terms
            self.inc("new")
            return item
        best = scores[0]
        item.story_similarity = best.score
        item.story_evidence = self.evidence(story.terms, best)
        group, agreed = self.mergeable(store, best.story, best.centroid, scores[1:])
        item.story_id = min(group)
        centroid: Vector = {}
        for score in scores:
            if score.story in group:
                centroid = add_to_centroid(centroid, score.centroid)
        item.story_centroid = pack(add_to_centroid(centroid, vector))
        absorbed = set(group) - {item.story_id}
        if absorbed:
            self.merge(store, item, item.story_id, absorbed, scores, agreed)
            logger.info(
                "Stories %s merged into story %d, bridged by %s",
                sorted(absorbed),
                item.story_id,
                item.url,
            )
            self.inc("merged", len(absorbed))
        self.inc("joined")
        return item

    def revise(
        self,
        store: Store,
        item: ArticleItem,
        vector: Vector,
        terms: tuple[tuple[str, int], ...],
        found: list[StoryMatch],
    ) -> ArticleItem:
        """A revision keeps its story, and merges into it (or it into) the stories its new
        text matches, where their centroids agree: a revision merges stories, never splits
        one. The story's centroid keeps the first version's terms."""
        revised = item.revision_of
        assert revised is not None
        own = store.resolve_story(revised.story_id) or revised.story_id
        others = [match for match in found if match.id != revised.id]
        scores = [s for s in self.scores(store, item, vector, others) if s.story != own]
        mine = unpack(store.centroids([own]).get(own))
        group, agreed = self.mergeable(store, own, mine, scores)
        item.story_id = min(group)
        if len(group) > 1:
            best = scores[0]
            item.story_similarity = best.score
            item.story_evidence = self.evidence(terms, best)
            merged = mine
            for score in scores:
                if score.story in group:
                    merged = add_to_centroid(merged, score.centroid)
            item.story_centroid = pack(merged)
            self.merge(store, item, item.story_id, set(group) - {item.story_id}, scores, agreed)
            self.inc("merged", len(group) - 1)
        return item

    def scores(
        self, store: Store, item: ArticleItem, vector: Vector, found: list[StoryMatch]
    ) -> list[StoryScore]:
        """The stories of FOUND (members within the window) whose centroid the article
        matches, best first (ties: the oldest story)."""
        date: datetime = item.published_at or item.fetched_at
        members = Counter(m.story_id for m in found if abs(m.date - date) <= self.window)
        if not vector or not members:
            return []
        # The stories with the most members among the candidates, each compared in full:
        # a bound on the work of one article, whatever a common term brings back.
        near = [story for story, _ in members.most_common(MAX_CANDIDATE_STORIES)]
        self.inc("candidates", len(near))
        blobs = {sid: blob for sid, blob in store.centroids(near).items() if blob}
        weights, documents = self.idf(store, set(vector))
        mine = weighted(vector, weights)
        centroids = {sid: unpack(blob) for sid, blob in blobs.items()}
        lengths = self.norms.lengths(
            blobs, centroids, documents, lambda keys: self.idf(store, keys)[0]
        )
        scores = []
        for story_id, centroid in centroids.items():
            score, shared = shared_cosine(mine, centroid, lengths[story_id], weights)
            if score >= self.threshold:
                scores.append(StoryScore(story_id, score, shared, centroid))
        return sorted(scores, key=lambda s: (-s.score, s.story))

    @staticmethod
    def idf(store: Store, keys: set[int]) -> tuple[dict[int, float], int]:
        """The IDF of each of KEYS, from the store's term counts as the transaction sees them
        (read once per transaction: a merge check asks again for the keys it scored), and
        the number of articles counted."""
        counts = store.term_counts(keys)
        documents = counts.get(DOCUMENTS_KEY, 0)
        return idf_weights(keys, counts, documents), documents

    def mergeable(
        self, store: Store, story: int, centroid: Vector, others: list[StoryScore]
    ) -> tuple[list[int], dict[int, float]]:
        """STORY and those of OTHERS whose centroid is close to its CENTROID, and how close."""
        if not others:
            return [story], {}
        weights, _ = self.idf(store, {key for s in others for key in s.centroid} | set(centroid))
        mine = weighted(centroid, weights)
        group, agreed = [story], {}
        for other in others:
            length = weighted(other.centroid, weights)[1]
            score, _ = shared_cosine(mine, other.centroid, length, weights)
            if score >= self.merge_threshold:
                group.append(other.story)
                agreed[other.story] = score
        return group, agreed

    @staticmethod
    def evidence(terms: tuple[tuple[str, int], ...], best: StoryScore) -> str:
        """The shared terms that weighed most in the article's match, as "term share, …"."""
        named = {term_key(term): term for term, _ in terms}
        top = sorted(best.shared.items(), key=lambda kv: -kv[1])[:EVIDENCE_TERMS]
        return ", ".join(f"{named.get(key, key)} {share:.3f}" for key, share in top)

    def merge(
        self,
        store: Store,
        item: ArticleItem,
        survivor: int,
        absorbed: set[int],
        scores: list[StoryScore],
        agreed: dict[int, float],
    ) -> None:
        try:
            store.merge_stories(
                survivor,
                absorbed,
                reason=f"bridged by {item.url}: "
                + ", ".join(f"story {s.story} at {s.score:.3f}" for s in scores)
                + "; centroids agree at "
                + ", ".join(f"{score:.3f} (story {s})" for s, score in sorted(agreed.items())),
                similarity=item.story_similarity,
                run_id=self.crawl_store.run_id,
            )
        except StoreError as exc:
            # As a failed article write: the open batch is rolled back and the run stops.
            self.crawl_store.fail(exc)
            self.inc_drop("store_error")
            raise DropItem(f"store_error: {item.url}: {exc}") from exc

    def inc_drop(self, reason: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"news/dropped/{reason}")

    def inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"news/stories/{key}", count)
