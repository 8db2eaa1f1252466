"""Language identification with py3langid's bundled model, loaded into memory once per process.

py3langid's own loader unpacks its model (65 MB) to a temporary file at every start, so a
full or unwritable temporary disk fails every article. Here the packed model is read from
the package and unpacked in memory, on the first text to identify. Unpacking takes about
0.3 s of CPU, in every crawl process and worker that cleans; given a cache folder
(NEWS_CACHE_DIR), the unpacked arrays are kept there, named by the packed model's hash, and
read back by later processes. A cache that cannot be written is only skipped."""

from __future__ import annotations

import hashlib
import io
import lzma
from array import array
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from py3langid.langid import LanguageIdentifier

from pipelines.cache import cached

# The model file inside the py3langid package, and the arrays its .npz holds.
MODEL = "data/model.npz.xz"
ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
# Language identification is as good on the first few paragraphs as on the whole text.
SAMPLE_CHARS = 2000


class ModelError(Exception):
    """py3langid's model cannot be read; the message says why, in one line."""


def check_model() -> None:
    """ModelError unless the package holds the model: a cheap look at start, which the
    first text to identify then reads."""
    try:
        found = resources.files("py3langid").joinpath(MODEL).is_file()
    except (OSError, ModuleNotFoundError) as exc:
        raise ModelError(f"py3langid's model {MODEL} cannot be read: {exc}") from exc
    if not found:
        raise ModelError(f"py3langid's model {MODEL} is not in the installed package")


def packed_model() -> bytes:
    """The packed model's bytes; ModelError if the package does not hold it."""
    try:
        return resources.files("py3langid").joinpath(MODEL).read_bytes()
    except (OSError, ModuleNotFoundError) as exc:
        raise ModelError(f"py3langid's model {MODEL} cannot be read: {exc}") from exc


def _unsigned(values: np.ndarray) -> array[int]:
    """An unsigned integer array as the identifier's tables are kept (the stdlib's array)."""
    typecode = {2: "H", 4: "I", 8: "L"}[values.dtype.itemsize]
    table = array(typecode)
    table.frombytes(np.ascontiguousarray(values).tobytes())
    return table


def load_identifier(cache_dir: Path | None = None) -> LanguageIdentifier:
    """The identifier of py3langid's bundled model, built in memory."""
    try:
        packed = packed_model()
        name = f"py3langid-{hashlib.blake2b(packed, digest_size=12).hexdigest()}.npz"
        unpacked = cached(cache_dir, name, lambda: lzma.decompress(packed))
        with np.load(io.BytesIO(unpacked), allow_pickle=False) as data:
            found: dict[str, Any] = {name: data[name] for name in ARRAYS}
    except (lzma.LZMAError, ValueError, KeyError, OSError) as exc:
        raise ModelError(f"py3langid's model {MODEL} is not of a known layout: {exc}") from exc
    return LanguageIdentifier(
        np.asarray(found["ptc"]),
        np.asarray(found["pc"]),
        found["classes"].tolist(),
        _unsigned(found["nextmove"]),
        found["out_feat"].tolist(),
        tk_row=_unsigned(found["nextmove_row"]),
    )


class LanguageDetector:
    """ISO 639-1 codes of texts; the model is loaded with the first text."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._identifier: LanguageIdentifier | None = None

    def detect(self, text: str) -> str | None:
        if not text.strip():
            return None
        if self._identifier is None:
            self._identifier = load_identifier(self.cache_dir)
        language, _score = self._identifier.classify(text[:SAMPLE_CHARS])
        return str(language)
