"""A cleaning worker imports what cleaning and the signatures need, not Scrapy, the store
or datasketch, and makes there what the crawl process would have made. Kept apart from the
other tests: a worker imports the module of the function it runs, so this one imports
nothing heavy at its top."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from pipelines.cleaner import Cleaner, Outcome, clean_in_worker, start_worker
from pipelines.signatures import (
    STORY_SEED,
    SignatureParams,
    StoryFingerprint,
    TextFingerprint,
    permutations,
)
from pipelines.workerpool import WorkerPool

HEAVY = {"scrapy", "twisted", "sqlalchemy", "alembic", "datasketch", "scipy"}
PAGE = """<html><head><title>Harbour board approves the new ferry terminal</title>
<meta property="og:site_name" content="The Valley Courier"></head><body><article>
<h1>Harbour board approves the new ferry terminal</h1>
<p>The harbour board of Kellerby voted on Tuesday to build a ferry terminal on the north
quay, at a cost of 48 million, after two years of consultation with residents.</p>
<p>Work starts in March and the first crossings to Marlow are planned for the summer of
2028, the board's chair, Ada Brightwater, told the meeting.</p>
</article></body></html>"""


def clean_and_list_imports(kind: str, raw: str, url: str) -> tuple[Outcome, list[str]]:
    outcome = clean_in_worker(kind, raw, url)
    return outcome, sorted({name.split(".")[0] for name in sys.modules} & HEAVY)


def lost(_args: tuple[Any, ...]) -> None:
    return None


def test_a_worker_cleans_and_signs_without_scrapy_the_store_or_datasketch():
    params = SignatureParams(num_perm=128, shingle_size=3, shingle_hash="words64")
    derivations = (
        TextFingerprint(params, (32, 4), permutations(128, params.seed)),
        StoryFingerprint(128, (64, 2), permutations(128, STORY_SEED)),
    )

    async def main() -> tuple[Outcome, list[str]]:
        pool = WorkerPool(1, start_worker, clean_and_list_imports, ([], derivations), lost)
        try:
            result: tuple[Outcome, list[str]] = await pool.submit("html", PAGE, "http://a.test/1")
            return result
        finally:
            pool.shutdown()

    outcome, heavy = asyncio.run(main())
    assert heavy == []
    assert outcome.cleaned is not None
    assert outcome.cleaned.title == "Harbour board approves the new ferry terminal"
    assert "48 million" in outcome.cleaned.text
    # The same article, signatures included, as the crawl process makes it with one worker.
    here = Cleaner([]).clean("html", PAGE, "http://a.test/1", derivations)
    assert outcome.cleaned == here.cleaned
    assert outcome.derived == here.derived
    assert outcome.derived.dedup is not None and outcome.derived.stories is not None
    assert len(outcome.derived.dedup.signature) == 128 * 4
    assert len(outcome.derived.dedup.bands) == 32
    assert len(outcome.derived.stories.bands) == 64
