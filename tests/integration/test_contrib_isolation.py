"""django-oscar is an optional extra: nothing in stylerecs but stylerecs.contrib.oscar
imports it (covers stylerecs/contrib/oscar and the rest of the package's imports)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import importlib, pkgutil, sys
import django
django.setup()
import stylerecs
for module in pkgutil.walk_packages(stylerecs.__path__, "stylerecs."):
    if module.name.startswith(("stylerecs.contrib.", "stylerecs.engine.__main__")):
        continue
    importlib.import_module(module.name)
print(sorted(m for m in sys.modules if m == "oscar" or m.startswith("oscar.")))
"""


def test_no_stylerecs_module_outside_contrib_imports_oscar():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
