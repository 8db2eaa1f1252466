"""Item pipeline stages, in crawl order: cleaning, dedup, storage."""
