"""The newsdedup Scrapy project: settings, items, spiders and commands."""
