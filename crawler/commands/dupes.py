"""`scrapy dupes`: the near-duplicate groups and stories, the pairs nearest the threshold
with a word diff, and a replay of the dedup decisions at another threshold."""

from __future__ import annotations

import argparse

from scrapy.exceptions import UsageError

from crawler.cli import StoreCommand, count, shown, writes_output
from crawler.rules import cache_dir
from db.base import StoreError
from db.records import RunCounts
from db.runs import StoreBusy, busy_message
from db.store import Store
from pipelines import audit
from pipelines.lsh import META_KEY, THRESHOLD_META
from pipelines.signatures import SignatureParams, Signer, StorySigner


def label(row: audit.Row) -> str:
    title = shown(row.title or "(no title)")[:70]
    return f"article {row.id}  {title}\n        {shown(row.url)}"


class Command(StoreCommand):
    def syntax(self) -> str:
        return "[options]"

    def short_desc(self) -> str:
        return "List duplicate groups and stories; replay dedup at another threshold"

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--limit",
            type=count,
            default=20,
            metavar="N",
            help="at most N groups and N stories, largest first",
        )
        parser.add_argument(
            "--nearest",
            type=count,
            default=5,
            metavar="N",
            help="N pairs each side of the threshold, word diffs",
        )
        parser.add_argument(
            "--threshold",
            type=float,
            metavar="X",
            help="replay the stored signatures at near-duplicate threshold X "
            "and show what would change",
        )
        parser.add_argument(
            "--apply", action="store_true", help="with --threshold: make the changes (a ledger run)"
        )

    @writes_output
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if args:
            raise UsageError("dupes takes no arguments")
        if opts.apply and opts.threshold is None:
            raise UsageError("--apply needs --threshold")
        if opts.threshold is not None and not 0.0 < opts.threshold <= 1.0:
            raise UsageError("--threshold must be in (0, 1]")
        if min(opts.limit, opts.nearest) < 0:
            raise UsageError("--limit and --nearest must not be negative")
        store = self.open_store(writer=opts.apply)
        if store is None:
            return
        try:
            self.inspect(store, opts)
        except (StoreError, ValueError) as exc:
            self.fail(str(exc))
        finally:
            store.close()

    def inspect(self, store: Store, opts: argparse.Namespace) -> None:
        assert self.settings is not None
        stored = store.get_meta(META_KEY)
        if stored is None:
            print("The store holds no article yet.")
            return
        params = SignatureParams.from_json(stored)
        signer = Signer(params)
        current = float(
            store.get_meta(THRESHOLD_META) or self.settings.getfloat("NEWS_DEDUP_THRESHOLD")
        )
        found = audit.load(store)
        if opts.threshold is None:
            self.show(store, found, signer, current, opts)
            return
        decisions = audit.replay(found, signer, opts.threshold)
        changed = audit.changes(found, decisions)
        self.show_changes(found, changed, current, opts.threshold)
        if not opts.apply:
            if changed:
                print("Dry run: nothing was changed. Add --apply to make these changes.")
            return
        self.apply(store, found, changed, current, opts.threshold)

    def show(
        self,
        store: Store,
        found: audit.Audit,
        signer: Signer,
        threshold: float,
        opts: argparse.Namespace,
    ) -> None:
        rows = found.rows
        duplicates = sum(len(members) for members in found.groups.values())
        print(
            f"{len(rows)} articles, {len(found.groups)} near-duplicate groups holding "
            f"{duplicates} duplicates, {len(found.stories)} stories of more than one "
            f"group; near-duplicate threshold {threshold:.2f}"
        )
        groups = sorted(found.groups.items(), key=lambda g: (-len(g[1]), g[0]))[: opts.limit]
        if groups:
            print("\nNear-duplicate groups (largest first)")
        for canonical, members in groups:
            print(f"  group of {label(rows[canonical])}")
            for row in sorted(members, key=lambda r: -(r.similarity or 0)):
                kind = row.duplicate_kind or ("exact" if row.similarity == 1.0 else "near")
                print(f"    {kind:<10} {row.similarity or 0:.3f}  {label(row)}")
        stories = sorted(found.stories.items(), key=lambda s: (-len(s[1]), s[0]))[: opts.limit]
        if stories:
            print("\nStories (largest first; a member's duplicates are counted beside it)")
        for story, members in stories:
            print(f"  story {story}")
            for row in members:
                joined = (
                    f"joined at {row.story_similarity:.3f}"
                    if row.story_similarity is not None
                    else "first        "
                )
                copies = len(found.groups.get(row.id, []))
                more = f" (+{copies} duplicate{'s' if copies != 1 else ''})" if copies else ""
                print(f"    {joined}  {label(row)}{more}")
                if row.story_evidence:
                    print(f"                     on {row.story_evidence}")
        if opts.nearest:
            self.show_nearest(store, found, signer, threshold, opts.nearest)

    def show_nearest(
        self, store: Store, found: audit.Audit, signer: Signer, threshold: float, count: int
    ) -> None:
        pairs = audit.nearest_pairs(found, signer, threshold, count)
        if not pairs:
            return
        texts = store.article_texts(r.id for _, a, b, _ in pairs for r in (a, b))
        print(f"\nPairs nearest the threshold ({threshold:.2f})")
        for similarity, row, other, duplicate in pairs:
            verdict = "duplicate" if duplicate else "not a duplicate"
            print(f"  {similarity:.3f}  article {row.id} ~ article {other.id}: {verdict}")
            for line in audit.word_diff(texts[other.id], texts[row.id]):
                print(f"      {line}")

    def show_changes(
        self, found: audit.Audit, changed: list[audit.Change], current: float, threshold: float
    ) -> None:
        print(
            f"Replaying {len(found.rows)} stored signatures at threshold {threshold:.2f} "
            f"(now {current:.2f}): {len(changed)} decision"
            f"{'s' if len(changed) != 1 else ''} would change"
        )
        for change in changed:
            before, after = change.before, change.after
            if change.kind == "separated":
                what = (
                    f"no longer a duplicate of article {before.duplicate_of} "
                    f"(similarity {before.similarity or 0:.3f})"
                )
            elif change.kind == "joined":
                what = (
                    f"becomes a duplicate of article {after.duplicate_of} "
                    f"(similarity {after.similarity or 0:.3f})"
                )
            else:
                what = (
                    f"moves from article {before.duplicate_of} to article "
                    f"{after.duplicate_of} (similarity {after.similarity or 0:.3f})"
                )
            print(f"  {change.kind:<9} article {change.article}: {what}")

    def apply(
        self,
        store: Store,
        found: audit.Audit,
        changed: list[audit.Change],
        current: float,
        threshold: float,
    ) -> None:
        assert self.settings is not None
        arguments: dict[str, object] = {
            "threshold": threshold,
            "previous_threshold": current,
            "apply": True,
        }
        with store.decisions_held():
            # A shared store takes crawls side by side, but not a rewrite of decisions
            # that crawls are making: it waits for their end, as on SQLite.
            holder = store.live_run() if store.shared else None
            if holder is not None:
                self.fail(busy_message(holder, store.display_url), exitcode=4)
                return
            try:
                run_id = store.start_run("dupes", arguments)
            except StoreBusy as exc:
                self.fail(str(exc), exitcode=4)
                return
            self._apply(store, found, changed, run_id, arguments, threshold)

    def _apply(
        self,
        store: Store,
        found: audit.Audit,
        changed: list[audit.Change],
        run_id: int,
        arguments: dict[str, object],
        threshold: float,
    ) -> None:
        assert self.settings is not None
        try:
            counts = audit.apply(
                store,
                found,
                changed,
                StorySigner(
                    self.settings.getint("NEWS_STORY_PERM"), cache_dir=cache_dir(self.settings)
                ),
                run_id=run_id,
                reason=f"scrapy dupes --threshold {threshold} --apply (run {run_id})",
            )
            store.set_meta(THRESHOLD_META, repr(threshold))
            store.close_maintenance_run(run_id, {**arguments, "changes": counts})
            store.commit()
        except StoreError:
            store.rollback()
            store.finish_run(run_id, status="failed", finish_reason="error", counts=RunCounts())
            raise
        print(
            f"Applied as run {run_id}: {len(changed)} decisions changed. Future crawls "
            f"should use -s NEWS_DEDUP_THRESHOLD={threshold}."
        )
