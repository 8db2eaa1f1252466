"""Scrapy settings for newsdedup. Our own settings start with NEWS_ and have their defaults here."""

BOT_NAME = "newsdedup"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
COMMANDS_MODULE = "crawler.commands"

ITEM_PIPELINES = {
    "pipelines.cleaning.CleaningPipeline": 100,
    "pipelines.dedup.DedupPipeline": 200,
    "pipelines.stories.StoryPipeline": 250,
    "pipelines.storage.StoragePipeline": 300,
}

DOWNLOAD_HANDLERS = {
    # The files source's reads: the very file it checked, never a symlink swapped in.
    "file": "crawler.filehandler.CheckedFileDownloadHandler",
}

DOWNLOADER_MIDDLEWARES = {
    # Before the redirect middleware (600) sees responses, after it re-issues requests.
    # First: nothing else should even consider a request to an internal address.
    "crawler.middlewares.PrivateAddressGuard": 40,
    "crawler.middlewares.StoredArticleFilter": 50,
    "crawler.middlewares.ConditionalListings": 60,
    # After the redirect middleware (600) in response order: sees the 3xx first.
    "crawler.middlewares.RedirectGuard": 610,
}

EXTENSIONS = {
    # The crawl's store: the stages and middlewares above are handed it.
    "crawler.store.CrawlStore": 0,
    # With NEWS_FRONTIER_URL, this process is one of a fleet (crawler/frontier.py).
    "crawler.frontier.Frontier": 5,
    # Which article URLs are fetched, and the ledger of those that were not stored.
    "crawler.revisits.Revisits": 10,
    "crawler.extensions.ProgressLog": 500,
    "crawler.extensions.FrozenStartupHeap": 900,
    "crawler.extensions.CrawlProcessCpu": 910,
}

# NEWS_FRONTIER_URL puts the scheduler's queue and request filter in Redis (scrapy-redis).
ADDONS = {"crawler.frontier.FrontierAddon": 0}

ROBOTSTXT_OBEY = True
USER_AGENT = "newsdedup/0.1"
CONCURRENT_REQUESTS_PER_DOMAIN = 4
AUTOTHROTTLE_ENABLED = True
FEED_EXPORT_ENCODING = "utf-8"
# Limits for untrusted servers (see docs/limits.md). An article page is never near 16 MiB;
# sitemaps and feeds get NEWS_LISTING_MAX_BYTES instead. The size limits hold after
# decompression, which is what stops a gzip bomb. The timeout is for the whole download, so
# a server that drips one byte a second is cut off too.
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOWNLOAD_TIMEOUT = 30
REDIRECT_MAX_TIMES = 10
LOG_LEVEL = "INFO"
TELNETCONSOLE_ENABLED = False
# Cron runs need no control port.
REMOTE_CONTROL_ENABLED = False
# Scrapy checks every callback for a generator that returns a value by parsing its source,
# and its cache of the answer misses for bound methods: 0.5 to 0.8 ms per response
# (benchmarks/machinery.py). A test asks the question of our callbacks once instead.
WARN_ON_GENERATOR_RETURN_VALUE = False

# --- newsdedup settings (each is documented in docs/settings.md; a test checks that) ---

# Where articles are stored: any SQLAlchemy URL.
NEWS_DATABASE_URL = "sqlite:///data/news.db"
# Articles written per transaction, and the longest a batch stays open while items arrive.
NEWS_BATCH_SIZE = 500
NEWS_COMMIT_INTERVAL = 10.0
# SQLite stores: MiB of the file that reads map into memory instead of copying through
# read(); SQLite caps it (2 GiB in common builds). 0 reads without mapping.
NEWS_SQLITE_MMAP_MB = 2048
# Seconds a run waits for another run on the same store to end before giving up (exit 4).
NEWS_LOCK_WAIT = 0.0
# Seconds between progress lines in the log; 0 turns them off.
NEWS_PROGRESS_INTERVAL = 60.0
# Cleaned text shorter than this is not an article and is dropped (real news briefs run
# from about 95 characters; see docs/sources.md).
NEWS_MIN_TEXT_CHARS = 80
# Processes that extract text in parallel (trafilatura is most of a crawl's CPU);
# 0 means one per core, 1 cleans in the crawl process itself.
NEWS_WORKERS = 0
# Where a crawl keeps what it would compute the same way at every start (the unpacked
# language model, datasketch's permutations and layouts): "" is $XDG_CACHE_HOME/newsdedup
# (~/.cache/newsdedup), "none" keeps nothing.
NEWS_CACHE_DIR = ""
# Extra headings that start a trailing boilerplate block, added to the built-in ones.
NEWS_TRAILER_MARKERS: list[str] = []
# MinHash near-duplicate detection; chosen on the labelled set (see docs/dedup-and-stories.md).
NEWS_MINHASH_PERM = 128
NEWS_SHINGLE_SIZE = 3
NEWS_DEDUP_THRESHOLD = 0.45
# Same-story grouping: an article joins a story at this TF-IDF cosine to its centroid, and
# two stories merge at this cosine of their centroids; chosen on real news pairs
# (see docs/dedup-and-stories.md).
NEWS_STORY_PERM = 128
NEWS_STORY_THRESHOLD = 0.28
NEWS_STORY_MERGE_THRESHOLD = 0.3
# Two articles can share a story only if their dates (published, else fetched) are this close.
NEWS_STORY_WINDOW_DAYS = 7.0
# Let the news spider fetch from private, loopback and link-local addresses (tests, intranets).
NEWS_ALLOW_PRIVATE_ADDRESSES = False
# The news spider follows links from start pages this many hops deep.
NEWS_FOLLOW_DEPTH = 1
# Sitemap indexes nest at most this deep below a given sitemap; each sitemap file is read up
# to this many entries (the sitemap protocol's own limit); sitemaps and feeds may be this
# large after decompression (the protocol's 50 MB).
NEWS_SITEMAP_DEPTH = 3
NEWS_SITEMAP_MAX_URLS = 50_000
NEWS_LISTING_MAX_BYTES = 50 * 1024 * 1024
# Article requests one crawl may queue, over all its listings and pages; past it, the
# listings still being read are cut short (listing_truncated) and read by the next run.
NEWS_MAX_ARTICLE_REQUESTS = 100_000
# Request article URLs again even when they are already stored or not due.
NEWS_REFRESH = False
# A URL fetched and not stored is fetched again only when its listing shows a newer date,
# or after this many hours for reasons of the page's own (not_article, too_short, 404) …
NEWS_REVISIT_AFTER_HOURS = 720.0
# … and, for transient failures (5xx, 429, timeouts), after this many hours, doubled with
# each failed attempt up to NEWS_REVISIT_AFTER_HOURS.
NEWS_REVISIT_BACKOFF_HOURS = 1.0
# Texts kept per revised article, the newest (0 keeps every one).
NEWS_MAX_VERSIONS = 0
# The files source skips files larger than this many bytes, and folders nested deeper than
# this below the folder it was given.
NEWS_FILES_MAX_BYTES = 10 * 1024 * 1024
NEWS_FILES_MAX_DEPTH = 100

# A fleet: processes started with the same redis://HOST:PORT/DB share one frontier, and a
# PostgreSQL NEWS_DATABASE_URL (docs/fleet.md). Empty: this process crawls alone.
NEWS_FRONTIER_URL = ""
# The crawl's name in Redis (default: the spider's): two fleets on one Redis need two names.
NEWS_FRONTIER_NAME = ""
# Seconds an empty frontier is waited on, with no process of the fleet working, before a
# process leaves.
NEWS_FRONTIER_IDLE = 5.0
# Seconds Redis may be unreachable (retried with backoff) before the run stops, exit 1.
NEWS_FRONTIER_RETRY = 60.0
