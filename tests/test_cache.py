"""NEWS_CACHE_DIR: what a crawl keeps between runs is what it would compute."""

from __future__ import annotations

from pipelines.cache import cached
from pipelines.lsh import lsh_layout
from pipelines.signatures import STORY_SEED, permutations


def test_cached_permutations_and_layouts_are_datasketchs(tmp_path):
    for num_perm, seed in ((128, 1), (128, STORY_SEED), (64, 1)):
        drawn = permutations(num_perm, seed)
        assert permutations(num_perm, seed, tmp_path) == drawn  # computed, then kept
        assert permutations(num_perm, seed, tmp_path) == drawn  # read back
    for threshold in (0.45, 0.7, 0.22):
        assert lsh_layout(threshold, 128, tmp_path) == lsh_layout(threshold, 128)
        assert lsh_layout(threshold, 128, tmp_path) == lsh_layout(threshold, 128)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert len(names) == 6 and not any(name.startswith(".") for name in names)


def test_a_cache_that_cannot_be_written_is_only_skipped(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    calls = []

    def compute() -> bytes:
        calls.append(1)
        return b"value"

    assert cached(blocked / "cache", "x", compute) == b"value"
    assert cached(blocked / "cache", "x", compute) == b"value"
    assert len(calls) == 2  # nothing kept, nothing broken
    assert cached(None, "x", compute) == b"value"
