"""The store opens in Datasette with the project's metadata, and its canned queries answer."""

from __future__ import annotations

import asyncio
import json

import pytest

from db.models import Base
from tests.conftest import ROOT, SAMPLE, run_scrapy

datasette_app = pytest.importorskip("datasette.app", reason="the datasette extra is not installed")
METADATA = json.loads((ROOT / "db" / "datasette-metadata.json").read_text("utf-8"))


def test_metadata_describes_every_table_and_column():
    tables = METADATA["databases"]["news"]["tables"]
    for table in Base.metadata.sorted_tables:
        assert set(tables[table.name]["columns"]) == {c.name for c in table.columns}, table.name
        assert tables[table.name]["description"]


def test_canned_queries_answer(tmp_path):
    database = tmp_path / "news.db"  # Datasette names the database after the file
    assert run_scrapy(["crawl", "files", "-a", f"path={SAMPLE}"], database).returncode == 0
    assert (
        run_scrapy(["crawl", "files", "-a", f"path={tmp_path / 'missing'}"], database).returncode
        == 1
    )

    async def fetch(path: str) -> list[dict]:
        ds = datasette_app.Datasette([str(database)], metadata=METADATA)
        response = await ds.client.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    stories = asyncio.run(fetch("/news/latest_stories.json?_shape=array"))
    # 14 groups; two follow-ups (the tram contract, the flood's ebb) join their story.
    assert len(stories) == 12
    assert max(story["articles"] for story in stories) == 5
    duplicates = asyncio.run(fetch("/news/duplicates_of_article.json?_shape=array&article_id=3"))
    assert len(duplicates) == 3 and all(0 < d["similarity"] <= 1 for d in duplicates)
    failed = asyncio.run(fetch("/news/runs_with_errors.json?_shape=array"))
    assert [(run["id"], run["status"], run["errors"]) for run in failed] == [(2, "failed", 1)]
