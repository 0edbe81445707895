"""Which arm of the running experiment a shopper is in: the one function to ask.

``treatment_for(shopper=...)`` is what views, selectors and the ``stylerecs_arm``
template tag call. Assignment is deterministic: the shopper's key hashed with the
experiment's salt picks a point in [0, 1) and the arms' weights cut that interval. A
shopper assigned before (an anonymous visitor who has since signed in keeps the arm of
their anonymous visits; see ``services.experiments.assignments_merge``) keeps the stored
arm. Shoppers who turned personalisation off are excluded: no arm, nothing logged.

One experiment runs at a time (``services.experiments.experiment_start`` enforces it):
overlapping experiments on the same pages would confound each other's arms.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache

from .conf import stylerecs_settings
from .models import (
    Arm,
    ArmRanking,
    ArmVariants,
    Assignment,
    Experiment,
    ExperimentStatus,
    ShopperSettings,
)
from .shoppers import Shopper

RUNNING_CACHE_KEY = "stylerecs:experiments:running"


def bucket(*, salt: str, shopper_key: str) -> float:
    """A uniform, stable point in [0, 1) for a shopper in an experiment."""
    digest = hashlib.sha256(f"{salt}:{shopper_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick_arm(arms: list[Arm], point: float) -> Arm:
    """The arm whose slice of [0, 1), by weight in primary-key order, holds ``point``."""
    arms = sorted(arms, key=lambda arm: arm.pk)
    total = sum(arm.weight for arm in arms)
    edge = 0.0
    for arm in arms:
        edge += arm.weight / total
        if point < edge:
            return arm
    return arms[-1]


@dataclass(frozen=True)
class Treatment:
    """What a shopper is shown, given the running experiment.

    ``arm`` is the arm they are in (``None``: no experiment, or excluded); ``served`` is
    the arm whose treatment applies (the control when the guard rail stopped ``arm``).
    """

    experiment: Experiment | None = None
    arm: Arm | None = None
    served: Arm | None = None
    excluded: bool = False
    stored: bool = False  # the assignment row exists already

    @property
    def show_variants(self) -> bool:
        return self.served is None or self.served.variants == ArmVariants.STYLED

    @property
    def personalised_ranking(self) -> bool:
        return self.served is None or self.served.ranking == ArmRanking.PERSONALISED

    def shows_style(self, style) -> bool:
        """Whether variants in ``style`` may be shown to this shopper."""
        if style is None or not self.show_variants:
            return False
        hidden = self.served.hidden_style_id if self.served is not None else None
        return hidden is None or hidden != style.pk

    def arm_slug(self, experiment_slug: str) -> str | None:
        """The shopper's arm in the experiment with this slug, if it is running."""
        if self.experiment is not None and self.experiment.slug == experiment_slug:
            return self.arm.slug if self.arm is not None else None
        return None


NO_EXPERIMENT = Treatment()


def running_experiment() -> tuple[Experiment, list[Arm]] | None:
    """The running experiment and its arms (cached briefly; cleared on start/stop)."""
    found = cache.get(RUNNING_CACHE_KEY)
    if found is None:
        experiment = (
            Experiment.objects.filter(status=ExperimentStatus.RUNNING)
            .prefetch_related("arms")
            .first()
        )
        found = (experiment, list(experiment.arms.all())) if experiment else ()
        cache.set(RUNNING_CACHE_KEY, found, stylerecs_settings.EXPERIMENTS_CACHE_SECONDS)
    return found or None


def running_experiment_changed() -> None:
    """Forget the cached running experiment (after a start, a stop or a guard-rail stop)."""
    cache.delete(RUNNING_CACHE_KEY)


def treatment_for(*, shopper: Shopper | None, personalise: bool | None = None) -> Treatment:
    """The shopper's arm and what it shows. Costs no query when nothing is running and
    two otherwise (one when the caller passes ``personalise``, known already)."""
    running = running_experiment()
    if running is None or shopper is None:
        return NO_EXPERIMENT
    experiment, arms = running
    if personalise is None:
        personalise = not ShopperSettings.objects.filter(shopper.q(), personalise=False).exists()
    if not personalise:
        return Treatment(experiment=experiment, excluded=True)
    by_id = {arm.pk: arm for arm in arms}
    stored_id = (
        Assignment.objects.filter(shopper.q(), experiment=experiment)
        .values_list("arm_id", flat=True)
        .first()
    )
    arm = by_id.get(stored_id) or pick_arm(
        arms, bucket(salt=experiment.salt, shopper_key=shopper.key)
    )
    served = arm
    if arm.stopped_at is not None:
        served = next((a for a in arms if a.is_control), arm)
    return Treatment(
        experiment=experiment,
        arm=arm,
        served=served,
        stored=stored_id is not None,
    )
