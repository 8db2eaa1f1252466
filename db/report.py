"""What the runs did, and per source the quality signals that show a template change."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

from db.base import articles, crawl_runs
from db.store import Store

FIELDS = ("title", "published_at", "author", "language")
# A source is flagged when, in its last run, a fill rate falls below half of its earlier
# rate (from at least 50 %), or the median text length below half of the earlier median.
DROP_RATIO = 0.5
MIN_ARTICLES = 3


@dataclass
class RunSummary:
    id: int
    spider: str
    status: str
    started_at: str
    duration_s: float | None
    new: int
    exact_duplicate: int
    near_duplicate: int
    already_stored: int
    revised: int
    dropped: int
    dropped_reasons: dict[str, int]
    errors: int
    # A fleet's crawl: its processes' runs, summed here and listed in ``processes``.
    fleet_id: str | None = None
    processes: list[RunSummary] = field(default_factory=list)
    host: str | None = None
    pid: int | None = None


@dataclass
class Profile:
    """Quality signals of a set of articles."""

    articles: int = 0
    duplicates: int = 0
    filled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    lengths: list[int] = field(default_factory=list)
    boilerplate: int = 0

    def add(self, row: Any, boilerplate: bool) -> None:
        self.articles += 1
        self.duplicates += row.duplicate_of is not None
        for name in FIELDS:
            self.filled[name] += getattr(row, name) is not None
        self.lengths.append(row.length)
        self.boilerplate += boilerplate

    def merge(self, other: Profile) -> None:
        self.articles += other.articles
        self.duplicates += other.duplicates
        self.lengths += other.lengths
        self.boilerplate += other.boilerplate
        for name in FIELDS:
            self.filled[name] += other.filled[name]

    def fill_rate(self, name: str) -> float:
        return self.filled[name] / self.articles if self.articles else 0.0

    @property
    def median_length(self) -> float:
        return statistics.median(self.lengths) if self.lengths else 0.0


@dataclass
class SourceReport:
    source: str
    articles: int
    duplicate_rate: float
    fill_rates: dict[str, float]
    median_text_length: float
    boilerplate_articles: int
    flags: list[str]


def run_summary(row: Any) -> RunSummary:
    duration = (row.finished_at - row.started_at).total_seconds() if row.finished_at else None
    return RunSummary(
        id=row.id,
        spider=row.spider,
        status=row.status,
        started_at=row.started_at.isoformat(sep=" ", timespec="seconds"),
        duration_s=duration,
        new=row.items_new,
        exact_duplicate=row.items_exact_duplicate,
        near_duplicate=row.items_near_duplicate,
        already_stored=row.items_already_stored,
        revised=row.items_revised,
        dropped=row.items_dropped,
        dropped_reasons=json.loads(row.dropped_reasons or "{}"),
        errors=row.errors,
        fleet_id=row.fleet_id,
        host=row.hostname,
        pid=row.pid,
    )


# A fleet's status is its worst process's.
STATUS_ORDER = ("running", "failed", "killed", "busy", "interrupted", "finished")


def fleet_summary(fleet_id: str, rows: Sequence[Any]) -> RunSummary:
    """One crawl of a fleet: its processes' counts summed, from the first start to the
    last finish (None while any is running)."""
    processes = [run_summary(row) for row in sorted(rows, key=lambda r: r.id)]
    started = min(row.started_at for row in rows)
    finished = [row.finished_at for row in rows]
    reasons: dict[str, int] = defaultdict(int)
    for run in processes:
        for reason, number in run.dropped_reasons.items():
            reasons[reason] += number
    statuses = {run.status for run in processes}
    return RunSummary(
        id=processes[0].id,
        spider=processes[0].spider,
        status=min(statuses, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 0),
        started_at=started.isoformat(sep=" ", timespec="seconds"),
        duration_s=(max(finished) - started).total_seconds() if all(finished) else None,
        new=sum(run.new for run in processes),
        exact_duplicate=sum(run.exact_duplicate for run in processes),
        near_duplicate=sum(run.near_duplicate for run in processes),
        already_stored=sum(run.already_stored for run in processes),
        revised=sum(run.revised for run in processes),
        dropped=sum(run.dropped for run in processes),
        dropped_reasons=dict(sorted(reasons.items())),
        errors=sum(run.errors for run in processes),
        fleet_id=fleet_id,
        processes=processes,
    )


def recent_runs(store: Store, limit: int) -> list[RunSummary]:
    """The last LIMIT crawls, newest first: a run, or a fleet's runs as one crawl."""
    newest = store.conn.execute(select(crawl_runs).order_by(crawl_runs.c.id.desc()))
    crawls: list[Any] = []
    fleets: set[str] = set()
    for row in newest:
        if row.fleet_id is None:
            crawls.append(row)
        elif row.fleet_id not in fleets:
            fleets.add(row.fleet_id)
            crawls.append(row.fleet_id)
        if len(crawls) == limit:
            break
    newest.close()
    summaries = []
    for crawl in crawls:
        if not isinstance(crawl, str):
            summaries.append(run_summary(crawl))
            continue
        rows = store.conn.execute(select(crawl_runs).where(crawl_runs.c.fleet_id == crawl)).all()
        summaries.append(fleet_summary(crawl, rows))
    return summaries


def flags_for(history: Profile, last: Profile) -> list[str]:
    """Why the last run of a source looks unlike its history, if it does."""
    if history.articles < MIN_ARTICLES or last.articles < MIN_ARTICLES:
        return []
    flags = []
    for name in FIELDS:
        before, now = history.fill_rate(name), last.fill_rate(name)
        if before >= 0.5 and now < before * DROP_RATIO:
            flags.append(
                f"{name} filled in {now:.0%} of the last run's articles, {before:.0%} before"
            )
    if last.median_length < history.median_length * DROP_RATIO:
        flags.append(
            f"median text length {last.median_length:.0f} in the last run, "
            f"{history.median_length:.0f} before"
        )
    return flags


def source_reports(store: Store, boilerplate_phrases: Iterable[str]) -> list[SourceReport]:
    """One pass over the articles; per source, its last run is compared with its history."""
    phrases = [p.casefold() for p in boilerplate_phrases if " " in p.strip()]
    query = select(
        articles.c.source,
        articles.c.run_id,
        articles.c.duplicate_of,
        *(articles.c[name] for name in FIELDS),
        func.length(articles.c.text).label("length"),
        articles.c.text,
    ).execution_options(stream_results=True, yield_per=1000)
    by_run: dict[str, dict[int, Profile]] = defaultdict(lambda: defaultdict(Profile))
    for row in store.conn.execute(query):
        lowered = row.text.casefold()
        has_boilerplate = any(phrase in lowered for phrase in phrases)
        by_run[row.source or "?"][row.run_id or 0].add(row, has_boilerplate)

    reports = []
    for source, runs in sorted(by_run.items()):
        whole, history = Profile(), Profile()
        last_run = max(runs)
        for run_id, profile in runs.items():
            whole.merge(profile)
            if run_id != last_run:
                history.merge(profile)
        reports.append(
            SourceReport(
                source=source,
                articles=whole.articles,
                duplicate_rate=whole.duplicates / whole.articles,
                fill_rates={name: whole.fill_rate(name) for name in FIELDS},
                median_text_length=whole.median_length,
                boilerplate_articles=whole.boilerplate,
                flags=flags_for(history, runs[last_run]),
            )
        )
    return reports


def as_json(runs: list[RunSummary], sources: list[SourceReport], unstored: dict[str, int]) -> str:
    return json.dumps(
        {
            "runs": [asdict(r) for r in runs],
            "sources": [asdict(s) for s in sources],
            "unstored_urls": unstored,
        },
        indent=2,
        ensure_ascii=False,
    )
