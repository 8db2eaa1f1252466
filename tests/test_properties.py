"""Property tests: normalization, shingling, signatures and trailer cutting on arbitrary text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.boilerplate import TRAILER_MARKERS, TrailerCutter
from pipelines.dedup import SignatureParams, Signer, estimated_jaccard
from pipelines.textnorm import normalize_text

CUTTER = TrailerCutter()
SIGNER = Signer(SignatureParams(num_perm=128, shingle_size=3))
lines = st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=12)


@given(st.text())
def test_normalize_never_fails_and_is_stable(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


@given(lines)
def test_cutting_is_idempotent(parts):
    once = CUTTER.cut("\n".join(parts))
    assert CUTTER.cut(once) == once


@given(lines)
def test_nothing_is_cut_without_a_marker(parts):
    parts = [p for p in parts if not CUTTER.is_marker(p) and not CUTTER.is_teaser(p)]
    text = "\n".join(parts)
    expected = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    assert CUTTER.cut(text) == expected


@given(lines, st.sampled_from(TRAILER_MARKERS), lines)
def test_everything_after_a_marker_line_goes(body, marker, trailer):
    body = [p for p in body if p.strip() and not CUTTER.is_marker(p) and not CUTTER.is_teaser(p)]
    cut = CUTTER.cut("\n".join([*body, marker.upper(), *trailer]))
    kept = "\n".join(line.strip() for line in "\n".join(body).splitlines() if line.strip())
    if kept:
        assert cut == kept


@settings(max_examples=50)
@given(st.text(min_size=1))
def test_a_text_is_its_own_perfect_duplicate(text):
    minhash = SIGNER.sign(normalize_text(text))
    if minhash is None:
        assert SIGNER.shingles(normalize_text(text)) == []
        return
    signature = SIGNER.to_bytes(minhash)
    assert estimated_jaccard(signature, signature) == 1.0
    again = SIGNER.sign(normalize_text(text))
    assert again is not None and SIGNER.to_bytes(again) == signature
