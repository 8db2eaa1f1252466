"""Property tests: normalization, shingling, signatures and trailer cutting on arbitrary text."""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata

import numpy as np
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.boilerplate import PROMPT_MARKERS, TRAILER_MARKERS, TrailerCutter
from pipelines.signatures import (
    SHINGLE_HASHES,
    SignatureParams,
    Signer,
    band_keys,
    estimated_jaccard,
)
from pipelines.storyfeatures import _NUMBER_RE, NUMBER_DEFINITION
from pipelines.textnorm import _IGNORABLE_RE, _PUNCT, normalize_text

CUTTER = TrailerCutter()
SIGNERS = [
    Signer(SignatureParams(num_perm=128, shingle_size=3, shingle_hash=name))
    for name in SHINGLE_HASHES
]
lines = st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=12)


@given(st.text())
def test_normalize_never_fails_and_is_stable(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


# Text rich in what normalization rewrites: typographic punctuation and every kind of space.
typographic = st.text(
    alphabet=st.one_of(
        st.sampled_from([*_PUNCT, " ", "\t", "\n", "\u00a0", "\u2009", "\u3000", "\x1c", "É", "ﬁ"]),
        st.characters(),
    )
)


@given(typographic)
def test_normalize_matches_its_plain_definition(text):
    """Content hashes are stored: the fast normalization must give exactly what the plain
    definition gives (translate every character, collapse each run of \\s)."""
    plain = (
        unicodedata.normalize("NFKC", _IGNORABLE_RE.sub("", text))
        .translate(str.maketrans(dict[str, str | int | None](_PUNCT)))
        .casefold()
    )
    assert normalize_text(text) == re.sub(r"\s+", " ", plain).strip()


# Characters that render as nothing (Unicode's Default_Ignorable_Code_Point), as a copy
# sprinkled with them to dodge dedup would use.
IGNORABLE = [
    "\u00ad",  # soft hyphen
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u200e",  # left-to-right mark
    "\u202e",  # right-to-left override
    "\u2060",  # word joiner
    "\u2066",  # left-to-right isolate
    "\ufe0f",  # variation selector 16
    "\ufeff",  # zero-width no-break space
    "\U000e0041",  # tag latin capital a
]


@given(st.text(), st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(IGNORABLE))))
def test_invisible_characters_never_change_the_normalized_text(text, insertions):
    sprinkled = list(text)
    for position, character in insertions:
        sprinkled.insert(position % (len(sprinkled) + 1), character)
    assert normalize_text("".join(sprinkled)) == normalize_text(text)


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


def _body(lines: list[str]) -> list[str]:
    return [p for p in lines if p.strip() and not CUTTER.is_marker(p) and not CUTTER.is_teaser(p)]


def _joined(lines: list[str]) -> str:
    return "\n".join(line.strip() for line in "\n".join(lines).splitlines() if line.strip())


@given(lines, st.sampled_from(PROMPT_MARKERS), lines)
def test_everything_after_a_comment_prompt_goes(body, marker, trailer):
    body = _body(body)
    cut = CUTTER.cut("\n".join([*body, marker.upper(), *trailer]))
    if _joined(body):
        assert cut == _joined(body)


@given(lines, st.sampled_from(TRAILER_MARKERS), lines)
def test_a_marker_followed_by_teasers_only_opens_a_trailer(body, marker, trailer):
    body = _body(body)
    teasers = [t for t in trailer if CUTTER.is_headline(t.strip()) or not t.strip()]
    cut = CUTTER.cut("\n".join([*body, marker.upper(), *teasers]))
    if _joined(body):
        assert cut == _joined(body)


@given(lines, st.sampled_from(TRAILER_MARKERS), lines)
def test_paragraphs_after_a_related_marker_are_kept(body, marker, after):
    """A marker that is not a prompt, with a paragraph after it: only the marker goes."""
    body, after = _body(body), _body(after)
    paragraph = "The works will last two years. The council will pay for them."
    if marker in PROMPT_MARKERS or not _joined(body):
        return
    cut = CUTTER.cut("\n".join([*body, marker.upper(), paragraph, *after]))
    assert cut == _joined([*body, paragraph, *after])


@settings(max_examples=50)
@given(st.text(min_size=1), st.sampled_from(SIGNERS))
def test_a_text_is_its_own_perfect_duplicate(text, signer):
    signature = signer.sign(normalize_text(text))
    if not signature:
        assert signer.shingles(normalize_text(text)) == []
        return
    assert len(signature) == 4 * 128
    assert estimated_jaccard(signature, signature) == 1.0
    assert signer.sign(normalize_text(text)) == signature


@settings(max_examples=30)
@given(
    st.lists(st.from_regex(r"[a-zé]{1,8}", fullmatch=True), min_size=40, max_size=200),
    st.integers(min_value=0, max_value=10_000),
)
def test_both_shingle_hashes_estimate_the_same_jaccard(tokens, seed):
    """The two shingle hashes are two ways to draw one estimator: each signature agrees with
    the exact Jaccard of the 3-shingle sets within MinHash's error (128 slots: ±0.25 covers
    over 5 standard deviations), and an edit changes the estimate the same way in both."""
    rng = random.Random(seed)
    edited = [*tokens]
    for _ in range(len(tokens) // 5):
        edited[rng.randrange(len(edited))] = rng.choice(["nouveau", "autre", "mot"])

    def shingle_set(ws: list[str]) -> set[tuple[str, ...]]:
        return {tuple(ws[i : i + 3]) for i in range(len(ws) - 2)}

    a, b = shingle_set(tokens), shingle_set(edited)
    exact = len(a & b) / len(a | b)
    for signer in SIGNERS:
        left = signer.sign(" ".join(tokens))
        right = signer.sign(" ".join(edited))
        estimate = estimated_jaccard(left, right)
        assert abs(estimate - exact) <= 0.25, (signer.params.shingle_hash, estimate, exact)


@given(st.lists(st.integers(min_value=0, max_value=2**32 - 1), min_size=1, max_size=300))
def test_the_numpy_signature_is_datasketchs(values):
    """Signer.permuted_minimum is datasketch's update_batch without the loop in Python: the
    two must give the same hash values, or stored signatures would depend on the path."""
    signer = SIGNERS[0]
    reference = MinHash(
        num_perm=128, seed=signer.params.seed, hashfunc=lambda value: value, scheme="affine32"
    )
    reference.update_batch(values)
    ours = signer.permuted_minimum(np.array(values, dtype=np.uint32))
    assert ours.dtype == reference.hashvalues.dtype
    assert ours.tolist() == reference.hashvalues.tolist()


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=200), st.sampled_from([1, 2]))
def test_a_set_signature_is_datasketchs_with_its_sha1_hash(items, seed):
    """Signer.sign_set (story signatures, and stores that hash shingles with SHA-1) gives
    what datasketch's MinHash gives the same items with its default hash: the workers sign
    without datasketch, and stored signatures must not depend on where they were made."""
    signer = Signer(SignatureParams(num_perm=128, shingle_size=1, seed=seed))
    reference = MinHash(num_perm=128, seed=seed, scheme="affine32")
    reference.update_batch(items)
    assert signer._permutations.tolist() == reference.permutations.tolist()
    assert signer.sign_set(items) == np.asarray(reference.hashvalues, dtype="<u4").tobytes()


@settings(max_examples=200)
@given(
    st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=140),
    st.sampled_from([(64, 2), (32, 4), (16, 8), (128, 1), (20, 5)]),
)
def test_band_keys_are_the_keys_stores_hold(values, layout):
    """Stores keep their band keys: each is the first 4 bytes of BLAKE2b over the band's
    little-endian slots, salted with the band's number, read as a signed little-endian int."""
    signature = np.array(values, dtype="<u4").tobytes()
    bands, rows = layout
    expected: tuple[int, ...] = ()
    if len(values) >= bands * rows:
        expected = tuple(
            int.from_bytes(
                hashlib.blake2b(
                    b"".join(v.to_bytes(4, "little") for v in values[b * rows : (b + 1) * rows]),
                    digest_size=4,
                    salt=b.to_bytes(2, "little"),
                ).digest(),
                "little",
                signed=True,
            )
            for b in range(bands)
        )
    assert band_keys(signature, layout) == expected


# Text made of what a figure's edges are about: digits, separators, letters, spaces.
figure_text = st.text(alphabet=st.sampled_from([*"0123456789.,-a_ ", "\u00a0", "\u202f", "é", "٣"]))


@settings(max_examples=500)
@given(figure_text)
def test_the_figure_pattern_is_its_definition(text):
    assert _NUMBER_RE.findall(text) == re.findall(NUMBER_DEFINITION, text)
