"""A fresh Django shop that is not the demo: ``myshop`` (from ``startproject``) with an
app ``catalog`` (from ``startapp``) holding its own product model, views and templates.

What the shop already had before it installed stylerecs is written here; what
installing stylerecs adds comes from README's install section (``apply_readme``).
"""

from __future__ import annotations

from pathlib import Path

from .harness import HostProject, HostVenv, readme_host_files, readme_snippet

MODELS = """
from django.db import models
from django.urls import reverse


class Product(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    in_stock = models.BooleanField(default=True)
    photo = models.ImageField(upload_to="catalog")

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("product", args=[self.slug])
"""

VIEWS = """
from django.shortcuts import get_object_or_404, render

from .models import Product


def product_detail(request, slug):
    product = get_object_or_404(Product, slug=slug)
    return render(request, "catalog/product.html", {"product": product})
"""

BASE_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{% block title %}Acme prints{% endblock %}</title>
  <style>body { font-family: Georgia, serif; margin: 2em auto; max-width: 60em; }
  header { border-bottom: 3px double #333; margin-bottom: 1.5em; }</style>
  {% block head %}{% endblock %}
</head>
<body>
  <header><strong>Acme prints</strong> &middot; <a href="/for-you/">For you</a></header>
  <main>{% block content %}{% endblock %}</main>
</body>
</html>
"""

PRODUCT_HTML = """{% extends "base.html" %}
{% block title %}{{ product.title }}{% endblock %}
{% block content %}
<h1>{{ product.title }}</h1>
<p class="price">{{ product.price }} EUR</p>
README_SNIPPET
{% endblock %}
"""

# What the shop had before stylerecs: its app, a database from the environment, media,
# and its product page (appended to startproject's settings.py and urls.py).
SETTINGS = """
import os

import dj_database_url

INSTALLED_APPS += ["catalog"]
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
MEDIA_ROOT = os.path.join(os.environ["HOST_VAR_DIR"], "media")
MEDIA_URL = "/media/"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
"""

URLS = """
from django.conf import settings
from django.conf.urls.static import static

from catalog import views

urlpatterns += [path("products/<slug:slug>/", views.product_detail, name="product")]
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
"""

# The test's own: the suite's worker may be consuming the same Redis database's
# `default` queue for the demo, so this host's queues live under their own key prefix.
TEST_ONLY_SETTINGS = """
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "global_keyprefix": os.environ["HOST_REDIS_PREFIX"],
}
"""


def create_plain_shop(root: Path, venv: HostVenv, env: dict[str, str]) -> HostProject:
    """``startproject myshop`` + ``startapp catalog`` + the shop's own code (no stylerecs)."""
    root.mkdir(parents=True, exist_ok=True)
    host = HostProject(root=root, venv=venv, env=env)
    host.run("django-admin startproject myshop .")
    host.run("python manage.py startapp catalog")
    host.write("catalog/models.py", MODELS)
    host.write("catalog/views.py", VIEWS)
    host.write("catalog/templates/base.html", BASE_HTML)
    snippet = readme_snippet("django").strip()
    host.write(
        "catalog/templates/catalog/product.html", PRODUCT_HTML.replace("README_SNIPPET", snippet)
    )
    host.write("myshop/settings.py", SETTINGS, append=True)
    host.write("myshop/urls.py", URLS, append=True)
    return host


def install_stylerecs(host: HostProject, *, celery: bool = True) -> None:
    """Follow README's install section; ``celery=False`` leaves out the Celery app (a
    host that skipped that step, for the system checks)."""
    for host_file in readme_host_files():
        if not celery and host_file.path.endswith(("celery.py", "__init__.py")):
            continue
        host.write(host_file.path, host_file.code, append=host_file.append)
    host.write("myshop/settings.py", TEST_ONLY_SETTINGS, append=True)
    host.manage("makemigrations", "catalog", "-v0")


def photo_product_script(photo: Path, *, title: str, slug: str) -> str:
    """``manage.py shell -c`` code that adds a product with ``photo`` (the shop's own
    way of adding products; not part of stylerecs)."""
    return (
        "from django.core.files import File\n"
        "from catalog.models import Product\n"
        f"p = Product(title={title!r}, slug={slug!r}, price='19.00')\n"
        f"p.photo.save('{slug}.jpg', File(open({str(photo)!r}, 'rb')), save=True)\n"
        "print(p.pk)\n"
    )
