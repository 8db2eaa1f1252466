"""Every NEWS_ setting has a default in crawler/settings.py and a line in docs/settings.md."""

from __future__ import annotations

import re

from crawler import settings
from tests.conftest import ROOT


def test_every_setting_is_documented():
    names = [name for name in dir(settings) if name.startswith("NEWS_")]
    assert len(names) >= 9
    page = (ROOT / "docs" / "settings.md").read_text("utf-8")
    documented = set(re.findall(r"^\| `(NEWS_[A-Z_]+)` \|", page, flags=re.MULTILINE))
    assert sorted(set(names) - documented) == []
    assert sorted(documented - set(names)) == []  # and nothing documented that does not exist


def test_no_component_reads_an_undeclared_setting():
    used = set()
    for path in [*ROOT.glob("pipelines/*.py"), *ROOT.glob("crawler/**/*.py")]:
        used |= set(re.findall(r"\"(NEWS_[A-Z_]+)\"", path.read_text("utf-8")))
    assert used <= {name for name in dir(settings) if name.startswith("NEWS_")}


def test_no_spider_callback_is_a_generator_returning_a_value():
    # What Scrapy's WARN_ON_GENERATOR_RETURN_VALUE checked on every response (switched off
    # in crawler/settings.py for its cost), checked here once for every spider method.
    import inspect

    from scrapy.utils.misc import is_generator_with_return_value

    from crawler.spiders.files import FilesSpider
    from crawler.spiders.news import NewsSpider

    generators = [
        method
        for spider in (FilesSpider, NewsSpider)
        for _name, method in inspect.getmembers(spider, inspect.isfunction)
        if inspect.isgeneratorfunction(method) and method.__module__.startswith("crawler.")
    ]
    assert len(generators) >= 3  # parse_file and the news spider's parsers
    assert [m.__qualname__ for m in generators if is_generator_with_return_value(m)] == []
