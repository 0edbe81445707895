"""The integration tests' fixtures live in tests/conftest.py (the e2e tests share them),
but for the experiment tests' ``start`` and ``shop`` (their helpers are in
``experiment_setup.py``).

The helpers are re-exported here for the test modules that import them from
``.conftest``.
"""

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from stylerecs.models import ProductStyleProfile, Recommendation
from stylerecs.services.experiments import experiment_start
from stylerecs.services.preferences import preferences_set
from stylerecs.shoppers import Shopper
from tests.conftest import ROOT, Worker, jpeg_bytes, sample_jpeg, wait_for

__all__ = ["ROOT", "Worker", "jpeg_bytes", "sample_jpeg", "wait_for"]


@pytest.fixture
def start(django_capture_on_commit_callbacks):
    """Start an experiment the way the admin does, its after-commit hooks run."""

    def run(experiment):
        with django_capture_on_commit_callbacks(execute=True):
            return experiment_start(experiment=experiment)

    return run


@pytest.fixture
def shop(make_product, make_style, make_variant):
    """24 products in the noir style; a signed-in shopper with 24 recommendations."""
    noir = make_style("noir")
    products = [make_product(title=f"Print {i:02d}") for i in range(24)]
    for product in products:
        make_variant(product, noir)
        # Every product suits noir: For-you cards lead with the style where it suits.
        ProductStyleProfile.objects.create(product=product, affinities={str(noir.pk): 0.5})
    user = User.objects.create_user("shopper", password="pw")
    preferences_set(shopper=Shopper.for_user(user), weights={noir.pk: 1.0})
    Recommendation.objects.bulk_create(
        Recommendation(
            user=user,
            product=p,
            score=1.0 - i / 100,
            rank=i + 1,
            reason="Because you like Noir",
            computed_at=timezone.now(),
        )
        for i, p in enumerate(products)
    )
    client = Client()
    client.force_login(user)
    return {"noir": noir, "products": products, "user": user, "client": client}
