"""newsdedup's scrapy commands (COMMANDS_MODULE); their shared base is crawler.cli."""
