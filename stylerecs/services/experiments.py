"""Experiments: starting and stopping them, exposure (impression) logging, login merge.

Impressions are written in one multi-row INSERT per page (plus one for the shopper's
assignment on their first exposure), so a page of 24 cards costs two INSERTs at most,
not 24. The analysis is in ``services/experiment_analysis.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from ..assignment import Treatment, running_experiment_changed
from ..conf import stylerecs_settings
from ..models import Arm, Assignment, Experiment, ExperimentStatus, Impression, Surface
from ..shoppers import Shopper
from .impression_buffer import buffer_push, impressions_settle
from .impression_rows import insert_rows


def experiment_validate(*, experiment: Experiment) -> None:
    """Raise ``ValidationError`` unless the experiment can run: two arms or more, one
    control, positive weights."""
    arms = list(experiment.arms.all())
    if len(arms) < 2:
        raise ValidationError("An experiment needs at least two arms.")
    if sum(arm.is_control for arm in arms) != 1:
        raise ValidationError("Exactly one arm must be the control.")
    if any(arm.weight <= 0 for arm in arms):
        raise ValidationError("Every arm needs a traffic weight above 0.")


@transaction.atomic
def experiment_start(*, experiment: Experiment) -> Experiment:
    """Start a draft experiment. Only one runs at a time: overlapping experiments on the
    same pages would confound each other's arms."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status != ExperimentStatus.DRAFT:
        raise ValidationError(f"{experiment} is {experiment.get_status_display().lower()}.")
    experiment_validate(experiment=experiment)
    other = Experiment.objects.filter(status=ExperimentStatus.RUNNING).exclude(pk=experiment.pk)
    if other.exists():
        raise ValidationError(f"Stop {other.first()} first: one experiment runs at a time.")
    experiment.status = ExperimentStatus.RUNNING
    experiment.started_at = timezone.now()
    experiment.save(update_fields=["status", "started_at"])
    transaction.on_commit(running_experiment_changed)
    return experiment


@transaction.atomic
def experiment_stop(*, experiment: Experiment) -> Experiment:
    """Stop a running experiment; its assignments, impressions and report are kept."""
    experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
    if experiment.status != ExperimentStatus.RUNNING:
        raise ValidationError(f"{experiment} is not running.")
    experiment.status = ExperimentStatus.STOPPED
    experiment.stopped_at = timezone.now()
    experiment.save(update_fields=["status", "stopped_at"])
    transaction.on_commit(running_experiment_changed)
    return experiment


def arm_stop(*, arm: Arm, reason: str) -> bool:
    """Stop one arm (the guard rail): its shoppers see the control from now on, and the
    report counts their events up to this moment. Returns whether it was running."""
    if arm.is_control:
        raise ValidationError("The control arm cannot be stopped; stop the experiment.")
    updated = Arm.objects.filter(pk=arm.pk, stopped_at__isnull=True).update(
        stopped_at=timezone.now(), stop_reason=reason
    )
    transaction.on_commit(running_experiment_changed)
    return bool(updated)


def impressions_log(
    *,
    shopper: Shopper | None,
    surface: str,
    items: Iterable[tuple],
    treatment: Treatment,
) -> int:
    """Record that ``items`` (``(product_id, variant_id or None)``, in page order) were
    shown to a shopper on a surface. Returns how many were logged.

    Nothing is logged for excluded shoppers (personalisation off), when there is no
    shopper, or when ``IMPRESSIONS_ENABLED`` is off. The shopper's assignment is stored
    at their first exposure, which is what makes it sticky across login.
    """
    if not stylerecs_settings.IMPRESSIONS_ENABLED or shopper is None or treatment.excluded:
        return 0
    if surface not in Surface.values:
        raise ValueError(f"Unknown surface {surface!r}; use one of {Surface.values}")
    arm = treatment.arm
    if arm is not None and not treatment.stored and not Arm.objects.filter(pk=arm.pk).exists():
        # Deleted since another process cached the running experiment (signals clear
        # only this process's cache): log without an arm rather than fail the page.
        running_experiment_changed()
        arm = None
    if arm is not None and not treatment.stored:
        Assignment.objects.bulk_create(
            [Assignment(experiment=treatment.experiment, arm=arm, **shopper.fields())],
            ignore_conflicts=True,
        )
    arm_id = arm.pk if arm else None
    items = list(items)
    if buffer_push(
        user_id=shopper.user_id,
        anon_id=shopper.anon_id,
        surface=surface,
        arm_id=arm_id,
        items=items,
    ):
        return len(items)
    now = timezone.now()
    rows = [
        (shopper.user_id, shopper.anon_id, product_id, surface, position, variant_id, arm_id, now)
        for position, (product_id, variant_id) in enumerate(items, start=1)
    ]
    insert_rows(rows)
    return len(rows)


def impression_followed(*, shopper: Shopper, product_id) -> Subquery | None:
    """The shopper's latest impression of a product within the attribution window (what
    an event about that product followed), as a subquery: the event's INSERT looks it up
    itself, so linking costs no query of its own. ``None`` when logging is off."""
    if not stylerecs_settings.IMPRESSIONS_ENABLED:
        return None
    since = timezone.now() - timedelta(seconds=stylerecs_settings.ATTRIBUTION_WINDOW_SECONDS)
    latest = (
        Impression.objects.filter(shopper.q(), product_id=product_id, created_at__gte=since)
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )
    return Subquery(latest)


def assignments_merge(*, anon: Shopper, account: Shopper) -> None:
    """At login: the visitor's arms become the account's, unless the account is in that
    experiment already (then the account's arm stays and the visitor's row goes). Their
    impressions move with them (buffered ones are written first)."""
    impressions_settle()
    taken = set(Assignment.objects.filter(account.q()).values_list("experiment_id", flat=True))
    theirs = Assignment.objects.filter(anon.q())
    theirs.filter(experiment_id__in=taken).delete()
    theirs.exclude(experiment_id__in=taken).update(user_id=account.user_id, session_key="")
    Impression.objects.filter(anon.q()).update(user_id=account.user_id, session_key="")
