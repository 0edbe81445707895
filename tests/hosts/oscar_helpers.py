"""A minimal django-oscar shop in a temp folder, with stylerecs installed from its wheel.

Used by tests/hosts/test_oscar_host.py. The venv is a new one (cached under
``var/test/hosts`` between runs: installing oscar takes minutes) whose only link to the
development venv is a ``.pth`` line naming its site-packages, so torch, Django and Celery
are reused without download while ``.pth`` files inside that folder (the editable
stylerecs) are not processed: stylerecs comes from the wheel alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.conftest import ROOT

OSCAR_REQUIREMENTS = ["django-oscar>=4,<5", "sorl-thumbnail>=12.10"]
CACHE = ROOT / "var" / "test" / "hosts"


def run(args: list, *, cwd: Path | None = None, env: dict | None = None, timeout: int = 600):
    """Run a command; fail with its output when it fails."""
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def build_wheel(dest: Path) -> Path:
    """The stylerecs wheel, built from this checkout (no network: no build isolation)."""
    dest.mkdir(parents=True, exist_ok=True)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", dest, ROOT],
        timeout=300,
    )
    (wheel,) = dest.glob("stylerecs-*.whl")
    return wheel


def host_venv(wheel: Path) -> Path:
    """A venv with oscar and the stylerecs wheel; returns its python."""
    venv = CACHE / "oscar-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        base = getattr(sys, "_base_executable", sys.executable)
        run([base, "-m", "venv", venv])
    purelib = Path(
        run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).stdout.strip()
    )
    (purelib / "_stylerecs_dev_site.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = subprocess.run([python, "-c", "import oscar, sorl"], capture_output=True, cwd="/")
    if probe.returncode != 0:
        run([python, "-m", "pip", "install", "-q", *OSCAR_REQUIREMENTS], timeout=900)
    run([python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", wheel])
    return python


def database_url(name: str) -> str:
    """The test database server's URL, for another database on it."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def recreate_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


SETTINGS = '''
"""A minimal django-oscar shop that installs stylerecs (tests/hosts/test_oscar_host.py)."""

import os
from pathlib import Path

import dj_database_url
from oscar.defaults import *  # noqa: F403 (oscar's documented way)

from stylerecs.contrib.oscar.dashboard import dashboard_navigation

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "oscar-host-test-only"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.flatpages",
    "oscar.config.Shop",
    "oscar.apps.analytics.apps.AnalyticsConfig",
    "oscar.apps.checkout.apps.CheckoutConfig",
    "oscar.apps.address.apps.AddressConfig",
    "oscar.apps.shipping.apps.ShippingConfig",
    "oscar.apps.catalogue.apps.CatalogueConfig",
    "oscar.apps.catalogue.reviews.apps.CatalogueReviewsConfig",
    "oscar.apps.communication.apps.CommunicationConfig",
    "oscar.apps.partner.apps.PartnerConfig",
    "oscar.apps.basket.apps.BasketConfig",
    "oscar.apps.payment.apps.PaymentConfig",
    "oscar.apps.offer.apps.OfferConfig",
    "oscar.apps.order.apps.OrderConfig",
    "oscar.apps.customer.apps.CustomerConfig",
    "oscar.apps.search.apps.SearchConfig",
    "oscar.apps.voucher.apps.VoucherConfig",
    "oscar.apps.wishlists.apps.WishlistsConfig",
    "oscar.apps.dashboard.apps.DashboardConfig",
    "oscar.apps.dashboard.reports.apps.ReportsDashboardConfig",
    "oscar.apps.dashboard.users.apps.UsersDashboardConfig",
    "oscar.apps.dashboard.orders.apps.OrdersDashboardConfig",
    "oscar.apps.dashboard.catalogue.apps.CatalogueDashboardConfig",
    "oscar.apps.dashboard.offers.apps.OffersDashboardConfig",
    "oscar.apps.dashboard.partners.apps.PartnersDashboardConfig",
    "oscar.apps.dashboard.pages.apps.PagesDashboardConfig",
    "oscar.apps.dashboard.ranges.apps.RangesDashboardConfig",
    "oscar.apps.dashboard.reviews.apps.ReviewsDashboardConfig",
    "oscar.apps.dashboard.vouchers.apps.VouchersDashboardConfig",
    "oscar.apps.dashboard.communications.apps.CommunicationsDashboardConfig",
    "oscar.apps.dashboard.shipping.apps.ShippingDashboardConfig",
    "widget_tweaks",
    "haystack",
    "treebeard",
    "sorl.thumbnail",
    "django_tables2",
    "rest_framework",
    "stylerecs",
    "stylerecs.contrib.oscar",
    "harbour",
]
SITE_ID = 1
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "oscar.apps.basket.middleware.BasketMiddleware",
    "django.contrib.flatpages.middleware.FlatpageFallbackMiddleware",
]
ROOT_URLCONF = "harbour.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "oscar.apps.search.context_processors.search_form",
                "oscar.apps.checkout.context_processors.checkout",
                "oscar.apps.communication.notifications.context_processors.notifications",
                "oscar.core.context_processors.metadata",
            ]
        },
    }
]
AUTHENTICATION_BACKENDS = [
    "oscar.apps.customer.auth_backends.EmailBackend",
    "django.contrib.auth.backends.ModelBackend",
]
HAYSTACK_CONNECTIONS = {"default": {"ENGINE": "haystack.backends.simple_backend.SimpleEngine"}}
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"
USE_TZ = True

STYLERECS_PRODUCT_MODEL = "catalogue.Product"  # oscar's own product model
STYLERECS = {"PRODUCT_ADAPTER": "stylerecs.contrib.oscar.adapters.OscarProductAdapter"}
REST_FRAMEWORK = {"DEFAULT_THROTTLE_RATES": {"stylerecs_events": "60/minute"}}
OSCAR_DASHBOARD_NAVIGATION = OSCAR_DASHBOARD_NAVIGATION + dashboard_navigation()  # noqa: F405

CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
# The test run's own worker may listen on the same Redis database: a key prefix of
# this host's keeps the two apart.
CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": os.environ["HOST_KEY_PREFIX"]}
CELERY_TASK_IGNORE_RESULT = True
'''

CELERY = """
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harbour.settings")

app = Celery("harbour")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""

URLS = """
from django.apps import apps
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("stylerecs.urls")),
    path("", include(apps.get_app_config("oscar").urls[0])),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
"""

# stylerecs' pages extend "base.html": here it is oscar's layout with the three blocks.
BASE_HTML = """{% extends "oscar/layout.html" %}
{% block extrahead %}{{ block.super }}{% block head %}{% endblock %}{% endblock %}
"""

# The product page: oscar's own template, its gallery replaced by the stylerecs switcher.
DETAIL_HTML = """{% extends "oscar/catalogue/detail.html" %}
{% load stylerecs %}
{% block product_gallery %}
<div class="col-sm-6">{% stylerecs_variant_switcher product %}</div>
{% endblock %}
"""

SEED = """
import json
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from oscar.core.loading import get_model

from stylerecs.conf import get_adapter

Product = get_model("catalogue", "Product")
ProductClass = get_model("catalogue", "ProductClass")
ProductImage = get_model("catalogue", "ProductImage")
Partner = get_model("partner", "Partner")
StockRecord = get_model("partner", "StockRecord")

here = Path(".")
prints = ProductClass.objects.create(name="Prints", requires_shipping=False, track_stock=True)
partner = Partner.objects.create(name="Harbour prints")
made = {}
SEEDS = (("Harbour at dawn", "cat.jpg", 5), ("Sold-out lighthouse", "coffee.jpg", 0))
for title, photo, stock in SEEDS:
    product = Product.objects.create(product_class=prints, title=title, is_public=True)
    image = ProductImage(product=product, display_order=0, caption=title)
    image.original.save(photo, ContentFile((here / photo).read_bytes()), save=True)
    StockRecord.objects.create(
        product=product, partner=partner, partner_sku=f"SKU-{product.pk}",
        price=Decimal("24.50"), num_in_stock=stock,
    )
    made[title] = product
bare = Product.objects.create(product_class=prints, title="No photo yet", is_public=True)

get_user_model().objects.create_superuser("boss", "boss@example.com", "correct-horse-9")

adapter = get_adapter()
print(json.dumps({
    title: {
        "pk": p.pk,
        "title": adapter.title(p),
        "url": adapter.url(p),
        "price": str(adapter.price(p)),
        "available": adapter.is_available(p),
        "image": adapter.image_file(p).name,
    }
    for title, p in made.items()
} | {"bare": {"image": adapter.image_file(bare)}}))
"""


def write_project(folder: Path, photos: dict[str, bytes]) -> None:
    """The oscar shop's files: settings, urls, the Celery app, two templates, a seed."""
    app = folder / "harbour"
    (folder / "templates" / "oscar" / "catalogue").mkdir(parents=True)
    app.mkdir()
    (app / "__init__.py").write_text("from .celery import app as celery_app\n")
    (app / "settings.py").write_text(SETTINGS.lstrip())
    (app / "celery.py").write_text(CELERY.lstrip())
    (app / "urls.py").write_text(URLS.lstrip())
    (folder / "templates" / "base.html").write_text(BASE_HTML)
    (folder / "templates" / "oscar" / "catalogue" / "detail.html").write_text(DETAIL_HTML)
    (folder / "seed.py").write_text(SEED.lstrip())
    (folder / "manage.py").write_text(
        textwrap.dedent(
            """
            import os
            import sys

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "harbour.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
            """
        ).lstrip()
    )
    for name, data in photos.items():
        (folder / name).write_bytes(data)
