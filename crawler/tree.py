"""Walking a folder of any depth for the files a source reads (files, warc)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

# What is told of a folder not walked: the folder, the reason (stats key) and why.
Skip = Callable[[Path, str, str], None]


def walk(root: Path, wanted: Callable[[str], bool], max_depth: int, skip: Skip) -> Iterator[Path]:
    """The files under ROOT whose names are WANTED, in a stable order: a folder's files by
    name, then its subfolders by name, depth first, as os.walk gives them, but with a stack
    instead of recursion, so that no depth of tree can exhaust Python's stack. Symlinked
    folders are not entered; folders deeper than MAX_DEPTH (NEWS_FILES_MAX_DEPTH) are
    skipped (``too_deep``)."""
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            skip(folder, "unreadable", exc.strerror or str(exc))
            continue
        subfolders = []
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subfolders.append(Path(entry.path))
            elif wanted(entry.name):
                yield Path(entry.path)
        if subfolders and depth >= max_depth:
            for subfolder in subfolders:
                skip(
                    subfolder,
                    "too_deep",
                    f"more than NEWS_FILES_MAX_DEPTH={max_depth} folders below {root}",
                )
            continue
        stack.extend((subfolder, depth + 1) for subfolder in reversed(subfolders))
