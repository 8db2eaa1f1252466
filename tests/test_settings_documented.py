"""Every NEWS_ setting has a default in crawler/settings.py and a line in the README."""

from __future__ import annotations

import re

from crawler import settings
from tests.conftest import ROOT


def test_every_setting_is_documented():
    names = [name for name in dir(settings) if name.startswith("NEWS_")]
    assert len(names) >= 9
    readme = (ROOT / "README.md").read_text("utf-8")
    documented = set(re.findall(r"^\| `(NEWS_[A-Z_]+)` \|", readme, flags=re.MULTILINE))
    assert sorted(set(names) - documented) == []
    assert sorted(documented - set(names)) == []  # and nothing documented that does not exist


def test_no_component_reads_an_undeclared_setting():
    used = set()
    for path in [*ROOT.glob("pipelines/*.py"), *ROOT.glob("crawler/**/*.py")]:
        used |= set(re.findall(r"\"(NEWS_[A-Z_]+)\"", path.read_text("utf-8")))
    assert used <= {name for name in dir(settings) if name.startswith("NEWS_")}
