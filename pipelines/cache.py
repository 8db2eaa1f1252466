"""Values the pipeline computes the same way at every start (the unpacked language model,
datasketch's permutations and band layouts), kept between runs in NEWS_CACHE_DIR.

Each value is a file named by everything it depends on, written whole or not at all (a
temporary name, then a rename), so processes that start together can share the folder. A
folder that cannot be read or written is only skipped: the value is computed again."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

logger = logging.getLogger(__name__)


def cached(cache_dir: Path | None, name: str, compute: Callable[[], bytes]) -> bytes:
    """COMPUTE's bytes, read from CACHE_DIR/NAME when a process before kept them there."""
    if cache_dir is None:
        return compute()
    path = cache_dir / name
    with contextlib.suppress(OSError):
        return path.read_bytes()
    value = compute()
    partial = path.with_name(f".{name}.{os.getpid()}")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(value)
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        logger.debug("Not cached in %s: %s", cache_dir, exc)
    return value


def version_of(distribution: str) -> str:
    """An installed package's version, for the names of what is cached from it."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
