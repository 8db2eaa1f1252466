"""The newsdedup store, a plain library with no Scrapy: models and migrations (db.models,
db.schema), the store's connection and its concerns (db.base, db.runs, db.lookups, db.writes,
put together in db.store), and the records that go in and out (db.records).

Nothing is imported here, so that a cleaning worker reading db.records loads no SQLAlchemy."""
