"""newsdedup's scrapy commands (COMMANDS_MODULE)."""
