"""Set-up shared by the experiment tests: experiments, and shoppers in a chosen arm.

The fixtures that go with them (``start``, ``shop``) are in tests/integration/conftest.py.
"""

from __future__ import annotations

from django.test import Client

from stylerecs.assignment import bucket, pick_arm
from stylerecs.models import Arm, ArmVariants, Experiment
from stylerecs.shoppers import Shopper, new_anon_id


def make_experiment(*, slug="photos", arms=None) -> Experiment:
    experiment = Experiment.objects.create(name=slug.title(), slug=slug)
    for fields in arms or [
        {"slug": "control", "is_control": True},
        {"slug": "original", "variants": ArmVariants.ORIGINAL},
    ]:
        Arm.objects.create(experiment=experiment, name=fields["slug"].title(), **fields)
    return experiment


def anon_in(experiment, arm_slug: str) -> Shopper:
    """An anonymous shopper whom the hash puts in the given arm."""
    arms = list(experiment.arms.all())
    while True:
        shopper = Shopper.anonymous(new_anon_id())
        if pick_arm(arms, bucket(salt=experiment.salt, shopper_key=shopper.key)).slug == arm_slug:
            return shopper


def client_in(experiment, arm_slug: str) -> Client:
    client = Client()
    shopper = anon_in(experiment, arm_slug)
    session = client.session
    session["stylerecs_anon_id"] = shopper.anon_id
    session.save()
    return client
