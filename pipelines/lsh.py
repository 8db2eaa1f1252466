"""The LSH decisions, shared by the crawl (against the store's ``lsh_buckets``) and by
`scrapy dupes` (against an index in memory): band layouts, band keys, the best match."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from db.store import Store
from pipelines.cache import cached, version_of
from pipelines.signatures import Layout, band_keys, estimated_jaccard

# LSH candidates are verified against the estimated Jaccard, so a false positive costs one
# look-up while a false negative loses a duplicate: lean the band layout toward recall.
LSH_WEIGHTS = (0.3, 0.7)


# The store's news_meta keys: the signature parameters, and the threshold that
# `scrapy dupes --threshold X --apply` last decided the stored duplicates at.
META_KEY = "minhash"
THRESHOLD_META = "dedup_threshold"


def lsh_layout(threshold: float, num_perm: int, cache_dir: Path | None = None) -> Layout:
    """datasketch's band layout for this threshold, leaning toward recall (LSH_WEIGHTS).
    Kept in CACHE_DIR: datasketch brings scipy (0.4 s of CPU to import), and the layout only
    changes with its parameters."""

    def choose() -> bytes:
        from datasketch import MinHashLSH

        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=LSH_WEIGHTS)
        return f"{lsh.b} {lsh.r}".encode()

    weights = "-".join(map(str, LSH_WEIGHTS))
    name = f"lsh-layout-{threshold!r}-{num_perm}-{weights}-datasketch-{version_of('datasketch')}"
    bands, rows = cached(cache_dir, name, choose).split()
    return int(bands), int(rows)


class Signed(Protocol):
    """A stored canonical article as a decision sees it."""

    @property
    def id(self) -> int: ...

    @property
    def signature(self) -> bytes: ...


M = TypeVar("M", bound=Signed)


def best_match(signature: bytes, found: Iterable[M], threshold: float) -> tuple[M, float] | None:
    """The most similar canonical at or above the threshold; ties go to the oldest."""
    best: tuple[M, float] | None = None
    for match in sorted(found, key=lambda m: m.id):
        similarity = estimated_jaccard(signature, match.signature)
        if similarity >= threshold and (best is None or similarity > best[1]):
            best = (match, similarity)
    return best


class BandIndex:
    """The store's LSH index (``lsh_buckets``) in memory: band key → article ids, filled and
    queried with the same band keys. For replays over a whole store (`scrapy dupes`)."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._buckets: defaultdict[int, list[int]] = defaultdict(list)

    def keys(self, signature: bytes) -> tuple[int, ...]:
        return band_keys(signature, self.layout)

    def add(self, article_id: int, keys: Sequence[int]) -> None:
        for key in set(keys):
            self._buckets[key].append(article_id)

    def query(self, keys: Sequence[int]) -> set[int]:
        return {article for key in keys for article in self._buckets.get(key, ())}


def build_index(
    store: Store, lsh: int, layout: Layout, signatures: Iterable[tuple[int, bytes]]
) -> int | None:
    """Fill one LSH index of the store from SIGNATURES, unless it is already built with this
    layout: a new store, a store from before the index, or a changed threshold. Returns the
    articles indexed, or None when there was nothing to do."""
    key, wanted = f"lsh_layout_{lsh}", f"{layout[0]}x{layout[1]}"
    if store.get_meta(key) == wanted:
        return None
    store.clear_index(lsh)
    count = 0
    for article_id, signature in signatures:
        if signature:
            store.add_buckets(lsh, article_id, band_keys(signature, layout))
            count += 1
            if count % 10_000 == 0:
                store.commit()
    store.set_meta(key, wanted)
    store.commit()
    return count


def stored_layout(store: Store, lsh: int) -> Layout | None:
    """The band layout an index of the store was built with, if it was built."""
    value = store.get_meta(f"lsh_layout_{lsh}")
    if value is None:
        return None
    bands, rows = value.split("x")
    return int(bands), int(rows)
