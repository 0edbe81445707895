"""The README says what a shop needs that the code takes for granted.

Covers README.md against stylerecs/templates and bin/demo: the blocks a host's
``base.html`` must provide are the blocks stylerecs' pages fill, and the demo's address
variable is named.
"""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_readme_names_every_block_the_stylerecs_pages_fill():
    readme = (ROOT / "README.md").read_text()
    templates = ROOT / "stylerecs" / "templates" / "stylerecs"
    filled = set()
    for page in templates.glob("*.html"):
        text = page.read_text()
        if re.search(r'{% extends "stylerecs/base.html" %}', text):
            filled |= set(re.findall(r"{% block (\w+) %}", text))
    base = (templates / "base.html").read_text()
    filled |= set(re.findall(r"{% block (\w+) %}", base))
    # stylerecs' own blocks are defined in stylerecs/base.html: the host's need not be.
    own = {"stylerecs_head"}
    needed = filled - own
    assert {"title", "head", "content"} <= needed
    install = readme.split("## Installing stylerecs in your shop")[1]
    section = install.split("**6. Templates.**")[1].split("**7.")[0]
    assert set(re.findall(r"`(\w+)`", section)) >= needed, section


def test_readme_names_the_demo_address_variable():
    demo = (ROOT / "bin" / "demo").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "DEMO_ADDR" in demo and "DEMO_ADDR=" in readme
