"""The README's Quickstart is what CI runs."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_quickstart_has_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text("utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.+?)\n```", quickstart, flags=re.DOTALL)
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)
    setup_and_run, setup_and_test = commands
    assert "scrapy crawl files -a path=samples/news" in setup_and_run
    assert "pytest" in setup_and_test
    assert setup_and_test in (ROOT / ".ci" / "run").read_text("utf-8")


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text("utf-8")
    commands = [
        p.stem for p in (ROOT / "crawler" / "commands").glob("*.py") if p.stem != "__init__"
    ]
    assert sorted(commands) == ["crawl", "dupes", "export", "migrate", "report", "search"]
    for name in commands:
        assert f"scrapy {name}" in readme, name
