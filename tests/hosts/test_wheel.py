"""The wheel is the plugin alone, and its web profile installs no torch."""

from __future__ import annotations

import re
import tomllib

from .harness import ROOT, wheel_metadata, wheel_top_level


def test_wheel_ships_only_stylerecs(stylerecs_wheel):
    assert wheel_top_level(stylerecs_wheel) == {"stylerecs"}  # never shop/ or workers/


def test_wheel_holds_the_engine_templates_static_files_and_migrations(stylerecs_wheel):
    import zipfile

    names = zipfile.ZipFile(stylerecs_wheel).namelist()
    for expected in (
        "stylerecs/engine/__init__.py",
        "stylerecs/celeryconf.py",
        "stylerecs/migrations/0001_initial.py",
        "stylerecs/templates/stylerecs/base.html",
        "stylerecs/static/stylerecs/storefront.css",
    ):
        assert expected in names, expected
    assert not [n for n in names if n.startswith(("shop/", "workers/", "tests/", "bench/"))]


def test_plain_install_brings_no_torch_and_the_worker_extra_brings_ranges(stylerecs_wheel):
    metadata = wheel_metadata(stylerecs_wheel)
    requires = re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)
    base = [r for r in requires if "extra ==" not in r]
    worker = [r.split(";")[0].strip() for r in requires if 'extra == "worker"' in r]

    assert not [r for r in base if r.lower().startswith(("torch", "torchvision"))]
    names = sorted(r.split(">")[0].split("=")[0] for r in worker)
    # torch for stylizing and embedding; opencv for product masks; implicit and
    # threadpoolctl for training the taste model.
    assert names == [
        "implicit",
        "opencv-python-headless",
        "threadpoolctl",
        "torch",
        "torchvision",
    ]
    assert not [r for r in worker if "==" in r]  # ranges; the exact pins live elsewhere
    assert re.search(r"^Requires-Python: >=3\.11$", metadata, re.M)  # no upper bound


def test_exact_pins_are_in_the_constraints_file_make_install_uses():
    constraints = (ROOT / "constraints.txt").read_text().split()
    makefile = (ROOT / "Makefile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert {"torch==2.14.1", "torchvision==0.29.1"} <= set(constraints)
    assert "-c constraints.txt -e '.[worker,test]'" in makefile
    assert project["requires-python"] == ">=3.11"
