"""Our settings as data: each ``NEWS_`` setting's kind and range, checked in one place.

Components read their settings through :func:`value`, which raises NotConfigured with a
message naming the setting; the commands check every setting with :func:`problems` before
they start, so that a mistake is one line and an exit code, never a traceback."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.exceptions import NotConfigured
from scrapy.settings import BaseSettings
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


@dataclass(frozen=True)
class Rule:
    """A setting's kind and its range: LOW (exclusive when LOW_OPEN) to HIGH, inclusive."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def check(self, name: str, raw: Any) -> Any:
        """RAW as this kind, in range; ValueError with the reason otherwise."""
        if self.kind is bool:
            return _boolean(name, raw)
        if self.kind is list:
            return _word_list(name, raw)
        if self.kind is str:
            return "" if raw is None else str(raw)
        number = _number(name, raw, whole=self.kind is int)
        if not self.in_range(number):
            raise ValueError(f"{name} must {self.range_text()}, got {number!r}")
        return number

    def in_range(self, number: float) -> bool:
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            return False
        return self.high is None or number <= self.high

    def range_text(self) -> str:
        """What the value must do, as the message says it."""
        low, high = _plain(self.low), _plain(self.high)
        if self.high is not None:
            return f"be in ({low}, {high}]" if self.low_open else f"be within {low}..{high}"
        if self.low == 0:
            return "be positive" if self.low_open else "not be negative"
        return f"be at least {low}"


def _plain(number: float | None) -> str:
    return "" if number is None else f"{number:g}"


def _number(name: str, raw: Any, *, whole: bool) -> float:
    kind = "a whole number" if whole else "a number"
    if isinstance(raw, bool):
        raise ValueError(f"{name} must be {kind}, got {raw!r}")
    try:
        number: float = int(raw) if whole else float(raw)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name} must be {kind}, got {raw!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be {kind}, got {raw!r}")
    return number


def _boolean(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{name} must be True or False, got {raw!r}")


def _word_list(name: str, raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if isinstance(raw, list | tuple) and all(isinstance(item, str) for item in raw):
        return list(raw)
    raise ValueError(f"{name} must be a list of text, got {raw!r}")


RULES: dict[str, Rule] = {
    "NEWS_DATABASE_URL": Rule(str),
    "NEWS_BATCH_SIZE": Rule(int, 1),
    "NEWS_COMMIT_INTERVAL": Rule(float, 0, low_open=True),
    "NEWS_SQLITE_MMAP_MB": Rule(int, 0),
    "NEWS_LOCK_WAIT": Rule(float, 0),
    "NEWS_PROGRESS_INTERVAL": Rule(float, 0),
    "NEWS_MIN_TEXT_CHARS": Rule(int, 1),
    "NEWS_WORKERS": Rule(int, 0),
    "NEWS_TRAILER_MARKERS": Rule(list),
    "NEWS_MINHASH_PERM": Rule(int, 16, 1024),
    "NEWS_SHINGLE_SIZE": Rule(int, 1, 20),
    "NEWS_DEDUP_THRESHOLD": Rule(float, 0, 1, low_open=True),
    "NEWS_STORY_PERM": Rule(int, 16, 1024),
    "NEWS_STORY_THRESHOLD": Rule(float, 0, 1, low_open=True),
    "NEWS_STORY_MERGE_THRESHOLD": Rule(float, 0, 1, low_open=True),
    "NEWS_STORY_WINDOW_DAYS": Rule(float, 0, low_open=True),
    "NEWS_ALLOW_PRIVATE_ADDRESSES": Rule(bool),
    "NEWS_FOLLOW_DEPTH": Rule(int, 0),
    "NEWS_SITEMAP_DEPTH": Rule(int, 0),
    "NEWS_SITEMAP_MAX_URLS": Rule(int, 1),
    "NEWS_LISTING_MAX_BYTES": Rule(int, 1),
    "NEWS_MAX_ARTICLE_REQUESTS": Rule(int, 1),
    "NEWS_REFRESH": Rule(bool),
    "NEWS_REVISIT_AFTER_HOURS": Rule(float, 0),
    "NEWS_REVISIT_BACKOFF_HOURS": Rule(float, 0),
    "NEWS_MAX_VERSIONS": Rule(int, 0),
    "NEWS_FILES_MAX_BYTES": Rule(int, 1),
    "NEWS_FILES_MAX_DEPTH": Rule(int, 0),
    "NEWS_CACHE_DIR": Rule(str),
    "NEWS_FRONTIER_URL": Rule(str),
    "NEWS_FRONTIER_NAME": Rule(str),
    "NEWS_FRONTIER_IDLE": Rule(float, 0),
    "NEWS_FRONTIER_RETRY": Rule(float, 0),
}


def checked(settings: BaseSettings, name: str) -> Any:
    """The value of setting NAME, of its kind and in its range; ValueError otherwise."""
    found = RULES[name].check(name, settings.get(name))
    if name == "NEWS_DATABASE_URL":
        if not found:
            raise ValueError("NEWS_DATABASE_URL is empty")
        try:
            make_url(found)
        except ArgumentError:
            raise ValueError(f"NEWS_DATABASE_URL is not a database URL: {found!r}") from None
    return found


def value(settings: BaseSettings, name: str) -> Any:
    """:func:`checked`, for a component's ``from_crawler``: NotConfigured with the reason."""
    try:
        return checked(settings, name)
    except ValueError as exc:
        raise NotConfigured(str(exc)) from exc


def cache_dir(settings: BaseSettings) -> Path | None:
    """NEWS_CACHE_DIR as a folder: "" is the user's cache folder ($XDG_CACHE_HOME, or
    ~/.cache, then newsdedup), "none" is no cache."""
    setting = value(settings, "NEWS_CACHE_DIR")
    if setting.strip().lower() == "none":
        return None
    if setting:
        return Path(setting).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsdedup"


def problems(settings: BaseSettings) -> list[str]:
    """What is wrong with the settings, one line per setting."""
    found = []
    for name in RULES:
        try:
            checked(settings, name)
        except ValueError as exc:
            found.append(str(exc))
    return found
