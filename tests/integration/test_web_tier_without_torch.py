"""The web tier never imports torch: `pip install stylerecs` (no [worker] extra) serves
the shop. A fresh process imports every web-side module of stylerecs and serves the
storefront, API, admin and privacy pages, then says whether torch got loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT, _worker_env

# Worker-only modules: the engine (torch itself) and what loads scoring inputs into
# tensors. Everything else must import without torch.
WORKER_ONLY = (
    "stylerecs.engine",
    "stylerecs.services.scoring_inputs",
    "stylerecs.services.taste_scoring",
)
# Adapters for other shop frameworks import that framework (django-oscar), which this
# host does not have; tests/hosts/test_oscar_host.py serves their pages.
OTHER_FRAMEWORKS = ("stylerecs.contrib.",)

SERVE = r"""
import importlib, json, pkgutil, sys
import django
django.setup()
import stylerecs

worker_only = tuple(sys.argv[1].split(","))
imported = []

def walk(package):
    # Not pkgutil.walk_packages: it imports every package it walks into, the engine's too.
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if info.name.startswith(worker_only) or info.name.endswith(".migrations"):
            continue
        module = importlib.import_module(info.name)
        imported.append(info.name)
        if info.ispkg:
            walk(module)

walk(stylerecs)

from django.contrib.auth import get_user_model
from django.test import Client

from shop.models import Product

product = Product.objects.get(pk=int(sys.argv[2]))
staff = get_user_model().objects.create_superuser("boss", password="pw")
statuses = {}
shopper = Client()
for url in ["/", product.get_absolute_url(), "/for-you/", "/style-quiz/", "/my-style/",
            "/my-data/", "/api/styles/", "/api/products/", "/api/me/recommendations/",
            "/api/schema/", "/api/docs/"]:
    statuses[url] = shopper.get(url).status_code
statuses["like"] = shopper.post("/events/", {"kind": "like", "product": product.pk}).status_code
statuses["off"] = shopper.post("/my-data/personalisation/", {"enabled": "0"}).status_code
statuses["delete"] = shopper.post("/my-data/delete/", {"confirm": "yes"}).status_code
admin = Client()
admin.force_login(staff)
for url in ["/admin/", "/admin/stylerecs/style/", "/admin/stylerecs/style/add/",
            f"/admin/shop/product/{product.pk}/change/", "/admin/stylerecs/stylizedvariant/"]:
    statuses[url] = admin.get(url).status_code
torch = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(json.dumps({"imported": imported, "statuses": statuses, "torch": torch}))
"""


@pytest.mark.django_db(transaction=True)
def test_web_modules_and_pages_load_no_torch(make_product, make_style, django_db_setup):
    from django.db import connection

    product = make_product()
    make_style("noir")
    env = {**_worker_env(connection.settings_dict["NAME"]), "ALLOWED_HOSTS": "testserver"}

    result = subprocess.run(
        [sys.executable, "-c", SERVE, ",".join(WORKER_ONLY + OTHER_FRAMEWORKS), str(product.pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "stylerecs.tasks" in report["imported"] and "stylerecs.admin" in report["imported"]
    assert len(report["imported"]) > 40
    assert all(status < 400 for status in report["statuses"].values()), report["statuses"]
    assert report["torch"] == []
