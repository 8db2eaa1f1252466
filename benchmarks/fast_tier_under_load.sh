#!/usr/bin/env bash
# The README's test command (the fast tier), from fresh clones, while another crawl keeps
# both cores busy beside it: the acceptance check for the developer path.
#
#   bash benchmarks/fast_tier_under_load.sh [RUNS]     # default 3 runs; about 5 minutes each
#
# The load is `scrapy crawl files` over 3,000 generated 40 KB pages with the default
# workers, started again each time it ends. Each run clones this checkout's HEAD next to it
# (so that ../shared is found as in CI), makes its venv and runs the fast tier; the line it
# prints gives the exit code and the seconds, venv included.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-3}"
work="$(mktemp -d)"
clone="$(dirname "$here")/fast-tier-clone"
load=""
stop() {
    touch "$work/stop"
    if [ -n "$load" ]; then
        pkill -P "$load" 2>/dev/null || true
        kill "$load" 2>/dev/null || true
        wait "$load" 2>/dev/null || true
    fi
    rm -rf "$work" "$clone"
}
trap stop EXIT

"$here/.venv/bin/python" -c "
import sys; sys.path.insert(0, '$here')
from pathlib import Path
from benchmarks.newspages import make_pages
make_pages(Path('$work/pages'), 3000, 0.1)
"
(
    while [ ! -e "$work/stop" ]; do
        rm -rf "$work/store"
        "$here/.venv/bin/scrapy" crawl files -a "path=$work/pages" \
            -s "NEWS_DATABASE_URL=sqlite:///$work/store/news.db" -s LOG_LEVEL=ERROR \
            > /dev/null 2>&1 || true
    done
) &
load=$!

for run in $(seq "$runs"); do
    rm -rf "$clone"
    git clone -q "$here" "$clone"
    started=$(date +%s)
    status=0
    (cd "$clone" && python3 -m venv .venv \
        && .venv/bin/pip install -q -e '.[test]' > "$work/pip.log" 2>&1 \
        && .venv/bin/python -m pytest -q -p no:cacheprovider > "$work/run.log" 2>&1) || status=$?
    echo "run $run: exit $status, $(( $(date +%s) - started )) s (venv included): $(tail -1 "$work/run.log")"
done
