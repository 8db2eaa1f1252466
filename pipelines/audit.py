"""The dedup audit behind `scrapy dupes`: groups and stories as stored, the pairs nearest
the threshold, and a replay of the dedup decisions at another threshold from the stored
signatures (no re-crawl), with the changes it would make and, on request, makes."""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from db.base import DEDUP_LSH, STORY_LSH
from db.sites import site_domain
from db.store import Store
from pipelines.lsh import BandIndex, best_match, lsh_layout, stored_layout
from pipelines.signatures import Signer, StorySigner, band_keys, estimated_jaccard
from pipelines.storyvectors import add_to_centroid, article_vector, pack, unpack
from pipelines.textnorm import normalize_text, words


@dataclass(frozen=True)
class Row:
    id: int
    url: str
    title: str | None
    content_hash: str
    signature: bytes
    duplicate_of: int | None
    similarity: float | None
    story_id: int
    story_similarity: float | None
    duplicate_kind: str | None = None
    language: str | None = None
    story_evidence: str | None = None


@dataclass(frozen=True)
class Decision:
    duplicate_of: int | None
    similarity: float | None


@dataclass(frozen=True)
class Change:
    article: int
    before: Decision
    after: Decision

    @property
    def kind(self) -> str:
        if self.after.duplicate_of is None:
            return "separated"
        if self.before.duplicate_of is None:
            return "joined"
        return "moved"


@dataclass
class Audit:
    rows: dict[int, Row]
    groups: dict[int, list[Row]] = field(default_factory=dict)  # canonical id → duplicates
    stories: dict[int, list[Row]] = field(default_factory=dict)  # story id → canonical members


def load(store: Store) -> Audit:
    rows = {r.id: Row(**r._asdict()) for r in store.iter_audit_rows()}
    audit = Audit(rows)
    groups: dict[int, list[Row]] = defaultdict(list)
    stories: dict[int, list[Row]] = defaultdict(list)
    for row in rows.values():
        if row.duplicate_of is not None:
            groups[row.duplicate_of].append(row)
        else:
            stories[row.story_id].append(row)
    audit.groups = dict(groups)
    audit.stories = {story: members for story, members in stories.items() if len(members) > 1}
    return audit


def replay(audit: Audit, signer: Signer, threshold: float) -> dict[int, Decision]:
    """Every article's decision at THRESHOLD, made as the dedup stage makes it, with its band
    layout, band keys and best match (pipelines.lsh): in id order, exact copies of a
    canonical first, then the most similar earlier canonical at or above the threshold
    (ties to the oldest)."""
    index = BandIndex(lsh_layout(threshold, signer.params.num_perm))
    canonical_hashes: dict[str, int] = {}
    canonical: dict[int, Row] = {}
    decisions: dict[int, Decision] = {}
    for row in audit.rows.values():
        decision = Decision(None, None)
        keys = index.keys(row.signature) if row.signature else ()
        if row.content_hash in canonical_hashes:
            decision = Decision(canonical_hashes[row.content_hash], 1.0)
        elif keys:
            found = (canonical[article] for article in index.query(keys))
            best = best_match(row.signature, found, threshold)
            if best is not None:
                decision = Decision(best[0].id, best[1])
        decisions[row.id] = decision
        if decision.duplicate_of is None:
            canonical_hashes.setdefault(row.content_hash, row.id)
            if keys:
                canonical[row.id] = row
                index.add(row.id, keys)
    return decisions


def changes(audit: Audit, decisions: dict[int, Decision]) -> list[Change]:
    found = []
    for row in audit.rows.values():
        before = Decision(row.duplicate_of, row.similarity)
        after = decisions[row.id]
        if before.duplicate_of != after.duplicate_of:
            found.append(Change(row.id, before, after))
    return found


def nearest_pairs(
    audit: Audit, signer: Signer, threshold: float, count: int
) -> list[tuple[float, Row, Row, bool]]:
    """The COUNT near-duplicate pairs just above the threshold and the COUNT pairs of
    canonical articles just below it: (similarity, article, other, is_duplicate)."""
    above = sorted(
        (
            (row.similarity or 0.0, row, audit.rows[canonical], True)
            for canonical, members in audit.groups.items()
            for row in members
            if row.similarity is not None and row.similarity < 1.0
        ),
        key=lambda pair: (pair[0], pair[1].id),
    )[:count]
    # Canonical pairs below the threshold, found with an index laid out for half of it.
    index = BandIndex(lsh_layout(max(threshold / 2, 0.05), signer.params.num_perm))
    below: list[tuple[float, Row, Row, bool]] = []
    for row in audit.rows.values():
        if row.duplicate_of is not None or not row.signature:
            continue
        keys = index.keys(row.signature)
        for article in sorted(index.query(keys)):
            other = audit.rows[article]
            similarity = estimated_jaccard(row.signature, other.signature)
            if similarity < threshold:
                below.append((similarity, row, other, False))
        index.add(row.id, keys)
    below.sort(key=lambda pair: (-pair[0], pair[1].id))
    return above + below[:count]


def word_diff(old: str, new: str, *, changes: int = 3, width: int = 8) -> list[str]:
    """The first CHANGES differences between two texts, word by word, each side cut to
    WIDTH words: `- removed words` / `+ added words`."""
    a, b = words(normalize_text(old)), words(normalize_text(new))
    lines: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        for sign, part in (("-", a[i1:i2]), ("+", b[j1:j2])):
            if part:
                more = " …" if len(part) > width else ""
                lines.append(f"{sign} {' '.join(part[:width])}{more}")
        changes -= 1
        if changes == 0:
            break
    return lines


def copy_kind(row: Row, canonical: Row | None) -> str | None:
    """The duplicate_kind of ROW as a copy of CANONICAL (None: canonical itself)."""
    if canonical is None:
        return None
    if site_domain(row.url) != site_domain(canonical.url):
        return "syndicated"
    return "exact" if row.content_hash == canonical.content_hash else "near"


def apply(
    store: Store,
    audit: Audit,
    found: list[Change],
    story_signer: StorySigner,
    *,
    run_id: int,
    reason: str,
) -> dict[str, Any]:
    """Make the changes, in the store's open transaction. A separated article keeps its story
    (it was about the same event) and gets a story signature; an article that becomes a
    duplicate joins its new canonical's story, merging the two stories if they differ."""
    touched: set[int] = set()
    story_of = {row.id: row.story_id for row in audit.rows.values()}
    texts = store.article_texts(c.article for c in found if c.kind == "separated")
    counts: dict[str, int] = defaultdict(int)
    dedup_layout = stored_layout(store, DEDUP_LSH)
    story_layout = stored_layout(store, STORY_LSH)
    for change in found:
        counts[change.kind] += 1
        row = audit.rows[change.article]
        store.set_duplicate(
            change.article,
            change.after.duplicate_of,
            change.after.similarity,
            copy_kind(row, audit.rows.get(change.after.duplicate_of or 0)),
        )
        if change.after.duplicate_of is None:
            # Canonical now: in both indexes, with the story signature that needs.
            signature, terms = story_signer.sign(row.title, texts[change.article], row.language)
            vector = article_vector(terms)
            store.set_story_signature(change.article, signature, pack(vector) if vector else None)
            if vector:
                store.count_terms(vector)
            own = store.resolve_story(row.story_id) or row.story_id
            centroid = unpack(store.centroids([own]).get(own))
            store.set_centroid(own, pack(add_to_centroid(centroid, vector)))
            if dedup_layout is not None:
                store.add_buckets(DEDUP_LSH, row.id, band_keys(row.signature, dedup_layout))
            if story_layout is not None and signature:
                store.add_buckets(STORY_LSH, row.id, band_keys(signature, story_layout))
            continue
        # A duplicate is not indexed.
        if dedup_layout is not None:
            keys = band_keys(row.signature, dedup_layout)
            store.delete_buckets(DEDUP_LSH, row.id, keys)
        story_signature = store.story_signature_of(row.id)
        if story_layout is not None and story_signature:
            store.delete_buckets(STORY_LSH, row.id, band_keys(story_signature, story_layout))
        mine = store.resolve_story(story_of[change.article]) or story_of[change.article]
        theirs = store.resolve_story(story_of[change.after.duplicate_of]) or mine
        if mine != theirs:
            survivor = min(mine, theirs)
            store.merge_stories(
                survivor,
                {mine, theirs},
                reason=f"{reason}: article {change.article} became a duplicate of "
                f"article {change.after.duplicate_of}",
                similarity=change.after.similarity,
                run_id=run_id,
            )
            counts["stories_merged"] += 1
        touched.add(theirs)
    store.refresh_stories(touched)
    return dict(counts)
