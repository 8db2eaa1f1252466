"""Hostile input, round two: the commands' outputs, invisible characters, deep trees, charset
declarations, listings, lock waits, newer stores and command-line mistakes. Each case runs
through the real `scrapy` command and checks what it printed, its exit code and the store."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import threading
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE, CrawlResult, run_scrapy, scrapy_command

ARTICLE = (SAMPLE / "en-heatwave.txt").read_text("utf-8")


@pytest.fixture
def store(sample_store: CrawlResult) -> Path:
    return sample_store.database


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def no_traceback(result: CrawlResult) -> None:
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


# -- scrapy export --output ----------------------------------------------------------------


def test_export_never_writes_onto_the_store(store: Path) -> None:
    before = digest(store)
    attempts = [[str(store)], *([f"{store}{suffix}", "--force"] for suffix in ("", "-wal", "-shm"))]
    for attempt in attempts:
        result = run_scrapy(["export", "--output", *attempt], store)
        assert result.returncode == 1, attempt
        assert "is the store itself" in result.stderr
        no_traceback(result)
    assert digest(store) == before
    assert run_scrapy(["report"], store).returncode == 0


def test_export_refuses_an_existing_file_unless_forced(store: Path, tmp_path: Path) -> None:
    target = tmp_path / "exports" / "out.jsonl"
    target.parent.mkdir()
    target.write_text("keep me\n")
    refused = run_scrapy(["export", "--output", str(target)], store)
    assert refused.returncode == 1
    assert "exists: add --force to overwrite it" in refused.stderr
    assert target.read_text() == "keep me\n"
    forced = run_scrapy(["export", "--output", str(target), "--force"], store)
    assert forced.returncode == 0, forced.stderr
    with closing(sqlite3.connect(store)) as conn:
        [(canonical,)] = conn.execute("SELECT COUNT(*) FROM articles_dedup").fetchall()
    assert len(target.read_text().splitlines()) == canonical
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.jsonl"]  # no temporary left


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("{tmp}/missing/out.jsonl", "does not exist"),
        ("/dev/full", "exists: add --force"),
    ],
)
def test_export_to_a_bad_path_is_one_line(
    store: Path, tmp_path: Path, output: str, message: str
) -> None:
    result = run_scrapy(["export", "--output", output.format(tmp=tmp_path)], store)
    assert result.returncode == 1
    assert message in result.stderr
    no_traceback(result)


def test_export_to_a_full_device_fails_cleanly(store: Path) -> None:
    result = run_scrapy(["export", "--output", "/dev/full", "--force"], store)
    assert result.returncode == 1
    assert "export to /dev/full failed: [Errno 28] No space left on device" in result.stderr
    no_traceback(result)


# -- invisible characters ----------------------------------------------------------------


def sprinkle(text: str, character: str, every: int) -> str:
    return "".join(
        ch + character if i % every == every - 1 and ch.isalpha() else ch
        for i, ch in enumerate(text)
    )


def test_copies_sprinkled_with_invisible_characters_are_exact_duplicates(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a-original.txt").write_text(ARTICLE, "utf-8")
    (folder / "b-soft-hyphens.txt").write_text(sprinkle(ARTICLE, "\u00ad", 3), "utf-8")
    (folder / "c-zero-width.txt").write_text(sprinkle(ARTICLE, "\u200b", 2), "utf-8")
    (folder / "d-bidi.txt").write_text(sprinkle(ARTICLE, "\u202e\u202c", 7), "utf-8")
    result = run_scrapy(["crawl", "files", "-a", f"path={folder}"], tmp_path / "news.db")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = result.rows("SELECT url, duplicate_of, similarity, text FROM articles ORDER BY id")
    assert [(Path(url).name, dup, sim) for url, dup, sim, _ in rows] == [
        ("a-original.txt", None, None),
        ("b-soft-hyphens.txt", 1, 1.0),
        ("c-zero-width.txt", 1, 1.0),
        ("d-bidi.txt", 1, 1.0),
    ]
    # The stored text keeps its characters.
    assert "\u00ad" in rows[1][3] and "\u200b" in rows[2][3]


def test_bidi_controls_in_titles_are_shown_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    title, body = ARTICLE.split("\n", 1)
    (folder / "rtl.txt").write_text(f"Budget \u202egnimoc si{title}\n{body}", "utf-8")
    database = tmp_path / "news.db"
    assert run_scrapy(["crawl", "files", "-a", f"path={folder}"], database).returncode == 0
    found = run_scrapy(["search", "Budget"], database)
    assert found.returncode == 0, found.stderr
    assert "Budget \\u202egnimoc si" in found.stdout
    assert "\u202e" not in found.stdout
    shown = run_scrapy(["dupes"], database)
    assert shown.returncode == 0 and "\u202e" not in shown.stdout


# -- the files source: a symlink race, a deep tree ---------------------------------------

SECRET = "LEAKED-SECRET-MARKER"


def swapper(folder: Path, secret: Path, stop: threading.Event) -> None:
    """Swap each file of FOLDER between an article and a symlink to SECRET, atomically
    (os.replace), over and over, until STOP."""
    names = sorted(p.name for p in folder.iterdir())
    while not stop.is_set():
        for name in names:
            link = folder / f".{name}.link"
            link.symlink_to(secret)
            os.replace(link, folder / name)
            real = folder / f".{name}.real"
            real.write_text(ARTICLE.replace("heat", f"heat {name}"), "utf-8")
            os.replace(real, folder / name)


@pytest.mark.slow
def test_a_file_swapped_for_a_symlink_mid_run_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET}\n" + f"{SECRET} is not an article. " * 40, "utf-8")
    leaked, refused = 0, 0
    for iteration in range(6):
        folder = tmp_path / f"in-{iteration}"
        folder.mkdir()
        for index in range(60):
            (folder / f"f{index:03d}.txt").write_text(ARTICLE, "utf-8")
        stop = threading.Event()
        thread = threading.Thread(target=swapper, args=(folder, secret, stop))
        thread.start()
        try:
            result = run_scrapy(
                ["crawl", "files", "-a", f"path={folder}"], tmp_path / f"news-{iteration}.db"
            )
        finally:
            stop.set()
            thread.join()
        assert result.returncode == 0, result.stderr[-2000:]
        leaked += result.rows("SELECT COUNT(*) FROM articles WHERE text LIKE ?", f"%{SECRET}%")[0][
            0
        ]
        refused += result.stderr.count(": changed_during_read (") + result.stderr.count(
            ": outside_folder ("
        )
    assert leaked == 0
    # The swapper did catch reads in the middle: they were refused, not followed.
    assert refused > 0


def deep_tree(root: Path, depth: int) -> Path:
    """Folders d/d/…/d, DEPTH deep under ROOT (made relative to each other, so that no path
    handed to the system grows long); returns the deepest."""
    folder = root
    for _ in range(depth):
        folder = folder / "d"
        folder.mkdir()
    return folder


def remove_deep_tree(root: Path, depth: int) -> None:
    # shutil.rmtree recurses once per level, past Python's recursion limit.
    for level in range(depth, 0, -1):
        folder = root.joinpath(*["d"] * level)
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


@pytest.mark.slow
def test_a_tree_1500_folders_deep_is_walked_and_cut_at_the_depth_limit(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    (root / "a-top.txt").write_text(ARTICLE, "utf-8")
    deepest = deep_tree(root, 1500)
    (deepest / "deep.txt").write_text(ARTICLE.replace("heat", "deep heat"), "utf-8")
    shallow = root.joinpath("d", "d", "d")
    (shallow / "shallow.txt").write_text(ARTICLE.replace("heat", "shallow heat"), "utf-8")
    (root / "z-after").mkdir()
    (root / "z-after" / "after.txt").write_text(ARTICLE.replace("heat", "later heat"), "utf-8")
    try:
        result = run_scrapy(["crawl", "files", "-a", f"path={root}"], tmp_path / "news.db")
        assert result.returncode == 0, result.stderr[-2000:]
        no_traceback(result)
        stored = sorted(Path(url).name for (url,) in result.rows("SELECT url FROM articles"))
        assert stored == ["a-top.txt", "after.txt", "shallow.txt"]
        assert result.rows("SELECT dropped_reasons FROM crawl_runs") == [('{"too_deep": 1}',)]
        assert "too_deep (more than NEWS_FILES_MAX_DEPTH=100 folders below" in result.stderr

        deeper = run_scrapy(
            ["crawl", "files", "-a", f"path={root}"],
            tmp_path / "all.db",
            "NEWS_FILES_MAX_DEPTH=2000",
        )
        assert deeper.returncode == 0, deeper.stderr[-2000:]
        assert deeper.rows("SELECT COUNT(*) FROM articles") == [(4,)]
    finally:
        remove_deep_tree(root, 1500)


# -- a store written by a later version ------------------------------------------------


def test_a_store_from_a_newer_version_is_refused_plainly(store: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    newer.write_bytes(store.read_bytes())
    with closing(sqlite3.connect(newer)) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0042_from_the_future'")
        conn.commit()
    before = digest(newer)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(ARTICLE.replace("heat", "new heat"), "utf-8")
    for args in (["crawl", "files", "-a", f"path={folder}"], ["migrate"], ["report"]):
        result = run_scrapy(args, newer)
        assert result.returncode == 1, (args, result.stderr[-2000:])
        assert "was written by a newer newsdedup (schema revision 0042_from_the_future" in (
            result.stderr
        ), args
        assert "upgrade newsdedup" in result.stderr
        no_traceback(result)
    assert digest(newer) == before


# -- charset declarations ----------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head>{meta}<title>Le café du port rouvre</title></head>
<body><article><h1>Le café du port rouvre</h1>
<p>{body}</p></article></body></html>"""
FRENCH = (
    "Le café du port de Montclair a rouvert ses portes lundi après six mois de travaux. "
    "Les habitués ont retrouvé la terrasse, agrandie, et une carte où figurent désormais "
    "des plats préparés avec les produits des maraîchers de la vallée. "
) * 3


def test_charset_declarations_are_checked_against_the_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # Plain text that merely mentions a meta tag: the tag means nothing in it.
    (folder / "a-mentions-meta.txt").write_bytes(
        f'Le café du port rouvre\nLa balise <meta charset="utf-16"> est citée. {FRENCH}'.encode()
    )
    # A page whose meta names UTF-16, which its own ASCII-readable bytes cannot be in.
    (folder / "b-wrong-meta.html").write_bytes(
        PAGE.format(meta='<meta charset="utf-16">', body=FRENCH).encode()
    )
    # A page whose meta names a charset its bytes do not decode in.
    (folder / "c-lying-meta.html").write_bytes(
        PAGE.format(meta='<meta charset="ascii">', body=FRENCH.replace("Le", "Au")).encode()
    )
    # A page that is right: Latin-1, declared.
    (folder / "d-latin1.html").write_bytes(
        PAGE.format(meta='<meta charset="iso-8859-1">', body=FRENCH.replace("Le", "Ce")).encode(
            "latin-1"
        )
    )
    result = run_scrapy(
        ["crawl", "files", "-a", f"path={folder}"], tmp_path / "news.db", "LOG_LEVEL=INFO"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "] ERROR:" not in result.stderr
    stored = dict(result.rows("SELECT url, text FROM articles"))
    assert len(stored) == 4
    for url, text in stored.items():
        assert "café" in text and "maraîchers" in text, url


def test_a_page_the_extractor_cannot_parse_is_its_own_drop_not_the_runs_failure(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # Text with no markup at all, in scripts the HTML parser makes an empty tree of.
    (folder / "a-no-tree.html").write_text("ԼԽ㰠桴汭" * 80, "utf-8")
    (folder / "b-good.txt").write_text(ARTICLE, "utf-8")
    result = run_scrapy(
        ["crawl", "files", "-a", f"path={folder}"], tmp_path / "news.db", "LOG_LEVEL=INFO"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "] ERROR:" not in result.stderr
    assert "0 errors" in result.stdout.splitlines()[-1]
    assert [Path(url).name for (url,) in result.rows("SELECT url FROM articles")] == ["b-good.txt"]
    [(reasons,)] = result.rows("SELECT dropped_reasons FROM crawl_runs")
    assert reasons == '{"extraction_failed": 1}'
    assert "Dropped: extraction_failed: " in result.stderr
    assert "a-no-tree.html: trafilatura: " in result.stderr


# -- the command line ------------------------------------------------------------------------


def test_an_unknown_argument_is_refused_with_the_valid_ones(tmp_path: Path) -> None:
    result = run_scrapy(["crawl", "files", "-a", "folder=/srv/news"], tmp_path / "news.db")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the files spider takes no -a folder (it takes -a path=)"
    )
    news = run_scrapy(["crawl", "news", "-a", "sitemaps=https://a.test/"], tmp_path / "n.db")
    assert news.returncode == 2
    assert "the news spider takes no -a sitemaps (it takes -a sitemap=, -a feed=" in news.stderr
    assert not (tmp_path / "news.db").exists() and not (tmp_path / "n.db").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[[site]]\nfeeds = "https://a.test/rss.xml"\n', "feeds must be a list of URLs"),
        ('[site]\nfeeds = ["https://a.test/rss.xml"]\n', "sites are [[site]] tables"),
        ('[[site]]\nfeeds = ["https://a.test/rss.xml"\n', "is not valid TOML"),
        ('[[site]]\nfead = ["https://a.test/rss.xml"]\n', "unknown key 'fead'"),
        (None, "cannot read sources file"),
    ],
)
def test_a_malformed_sources_file_is_one_line(
    tmp_path: Path, content: str | None, message: str
) -> None:
    sources = tmp_path / "sites.toml"
    if content is not None:
        sources.write_text(content, "utf-8")
    result = run_scrapy(["crawl", "news", "-a", f"sources={sources}"], tmp_path / "news.db")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and str(sources) in last
    no_traceback(result)


@pytest.mark.parametrize(
    "args",
    [
        ["dupes", "--limit", "100000000000000000000"],
        ["report", "--runs", "1e20"],
        ["search", "heat", "--limit", "-1"],
        ["export", "--run", "99999999999999999999"],
    ],
)
def test_numbers_out_of_range_on_the_command_line_are_usage_errors(
    store: Path, args: list[str]
) -> None:
    result = run_scrapy(args, store)
    assert result.returncode == 2
    assert f"argument {args[-2]}: " in result.stderr
    no_traceback(result)


def test_reading_commands_work_on_a_read_only_store(store: Path) -> None:
    before = digest(store)
    url = f"NEWS_DATABASE_URL=sqlite:///file:{store}?mode=ro&uri=true"
    for args in (["report"], ["search", "heatwave"], ["export"], ["dupes"]):
        result = run_scrapy(args, store, url)
        assert result.returncode == 0, (args, result.stderr[-2000:])
        assert result.stdout.strip(), args
        no_traceback(result)
    assert digest(store) == before


@pytest.mark.parametrize("args", [["report"], ["search", "heatwave"], ["dupes"]])
def test_a_full_standard_output_is_one_line(store: Path, args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            scrapy_command(args, store), cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: cannot write the output: No space left on device"
    )
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_run_stopped_by_a_locked_store_counts_its_error(store: Path) -> None:
    """Another program holds SQLite's write lock past the 30 s busy timeout."""
    with closing(sqlite3.connect(store, isolation_level=None)) as conn:
        conn.execute("BEGIN EXCLUSIVE")
        result = run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], store)
        conn.execute("ROLLBACK")
    assert result.returncode == 1
    summary = result.stdout.splitlines()[-1]
    assert "failed (store_error)" in summary and "1 errors" in summary
    assert "database is locked" in result.stderr
    no_traceback(result)


def test_export_writes_through_a_symlink_and_keeps_it(store: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    result = run_scrapy(["export", "--output", str(link), "--force"], store)
    assert result.returncode == 0, result.stderr[-2000:]
    assert link.is_symlink() and link.resolve() == real.resolve()
    lines = real.read_text().splitlines()
    assert lines and all(json.loads(line)["url"] for line in lines)
    no_traceback(result)


def test_export_to_dash_is_standard_output(store: Path, tmp_path: Path) -> None:
    result = run_scrapy(["export", "--output", "-"], store)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not (ROOT / "-").exists()
    lines = result.stdout.splitlines()
    assert lines and all(json.loads(line)["url"] for line in lines)


def test_an_exported_file_is_readable_by_others_as_the_umask_says(
    store: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.jsonl"
    result = run_scrapy(["export", "--output", str(output)], store)
    assert result.returncode == 0, result.stderr[-2000:]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(output.stat().st_mode) == 0o666 & ~umask


def test_export_onto_dev_stdout_writes_to_it_and_leaves_it_alone(store: Path) -> None:
    before = os.lstat("/dev/stdout")
    result = run_scrapy(["export", "--output", "/dev/stdout", "--force"], store)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() and json.loads(result.stdout.splitlines()[0])["url"]
    after = os.lstat("/dev/stdout")
    assert stat.S_ISLNK(after.st_mode) == stat.S_ISLNK(before.st_mode)
    assert after.st_ino == before.st_ino


@pytest.mark.parametrize("args", [["report"], ["export"], ["search", "heat"], ["dupes"]])
def test_reading_commands_on_a_corrupted_store_say_so_in_one_line(
    store: Path, args: list[str]
) -> None:
    data = bytearray(store.read_bytes())
    for page in range(2, len(data) // 4096):  # every page but the header's, half overwritten
        data[page * 4096 + 100 : page * 4096 + 400] = b"\xff" * 300
    store.write_bytes(bytes(data))
    result = run_scrapy(args, store)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: the store cannot be read: ")
    no_traceback(result)


@pytest.mark.parametrize(
    "args",
    [["export", "--sinse", "2026-01-01"], ["report", "--run", "1", "--lats"], ["dupes", "-x"]],
)
def test_an_unknown_command_option_is_a_usage_error(store: Path, args: list[str]) -> None:
    result = run_scrapy(args, store)
    assert result.returncode == 2
    assert f"takes no option {args[-1] if args[0] != 'export' else '--sinse'}" in result.stderr
    assert result.stdout == ""
    no_traceback(result)
