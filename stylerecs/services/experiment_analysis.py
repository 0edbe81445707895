"""Experiment reports and the guard rail: per-arm figures from per-shopper aggregates.

The unit is the assigned shopper, never the impression: each shopper's impressions,
clicks, carts, purchases and revenue are summed first, then compared across arms
(``stylerecs.stats``). Events count from the shopper's assignment to the end of their
arm (its guard-rail stop, or the experiment's stop): intention to treat, so a treatment
that changes what shoppers buy anywhere in the shop is seen. Clicks are product views
that followed an impression on a list surface (For you, the catalogue, the quiz).
Revenue is the current price of each purchased product (the demo's orders keep no
prices of their own). Shoppers who turned personalisation off are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Q

from .. import stats
from ..conf import get_adapter, get_product_model, stylerecs_settings
from ..models import (
    Assignment,
    Experiment,
    ExperimentStatus,
    Impression,
    Interaction,
    InteractionKind,
    ShopperSettings,
    Surface,
)
from .experiments import arm_stop

LIST_SURFACES = [Surface.FOR_YOU, Surface.CATALOGUE, Surface.QUIZ]
METRICS = {
    "ctr": "Click-through rate",
    "cart_rate": "Add-to-cart rate",
    "conversion": "Conversion",
    "revenue_per_shopper": "Revenue per shopper",
}
METHOD = (
    "Fixed horizon: read the result once, when every arm has reached the planned number "
    "of shoppers. Intervals are per-shopper (Welch; delta method for click-through)."
)


@dataclass
class ShopperRow:
    arm_id: int
    assigned_at: object
    impressions: int = 0
    list_impressions: int = 0
    clicks: int = 0
    carts: int = 0
    purchases: int = 0
    revenue: float = 0.0


@dataclass
class ArmData:
    rows: list[ShopperRow] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(row, name) for row in self.rows], dtype=float)


def _key(user_id, session_key) -> tuple:
    return ("u", user_id) if user_id is not None else ("a", session_key)


def per_shopper(*, experiment: Experiment) -> dict[int, ArmData]:
    """``{arm id: ArmData}``: one row per assigned, counted shopper. Six queries."""
    arms = {arm.pk: arm for arm in experiment.arms.all()}
    off = ShopperSettings.objects.filter(personalise=False)
    off_keys = {_key(u, s) for u, s in off.values_list("user_id", "session_key")}
    shoppers: dict[tuple, ShopperRow] = {}
    for arm_id, user_id, session_key, at in Assignment.objects.filter(
        experiment=experiment
    ).values_list("arm_id", "user_id", "session_key", "assigned_at"):
        key = _key(user_id, session_key)
        if key not in off_keys:
            shoppers[key] = ShopperRow(arm_id=arm_id, assigned_at=at)

    impressions = (
        Impression.objects.filter(arm__experiment=experiment)
        .values("user_id", "session_key")
        .annotate(n=Count("pk"), n_list=Count("pk", filter=Q(surface__in=LIST_SURFACES)))
    )
    for row in impressions:
        shopper = shoppers.get(_key(row["user_id"], row["session_key"]))
        if shopper is not None:
            shopper.impressions, shopper.list_impressions = row["n"], row["n_list"]

    clicks = (
        Interaction.objects.filter(
            kind=InteractionKind.VIEW,
            impression__arm__experiment=experiment,
            impression__surface__in=LIST_SURFACES,
        )
        .values("user_id", "session_key")
        .annotate(n=Count("pk"))
    )
    for row in clicks:
        shopper = shoppers.get(_key(row["user_id"], row["session_key"]))
        if shopper is not None:
            shopper.clicks = row["n"]

    assigned = Assignment.objects.filter(experiment=experiment)
    events = Interaction.objects.filter(
        Q(user_id__in=assigned.exclude(user=None).values("user_id"))
        | Q(session_key__in=assigned.filter(user=None).values("session_key")),
        kind__in=[InteractionKind.ADD_TO_CART, InteractionKind.PURCHASE],
    ).values_list("user_id", "session_key", "kind", "product_id", "created_at")
    if experiment.started_at:
        events = events.filter(created_at__gte=experiment.started_at)
    events = list(events)
    purchased = {product for _, _, kind, product, _ in events if kind == InteractionKind.PURCHASE}
    adapter = get_adapter()
    prices = {
        pk: float(adapter.price(product) or 0)
        for pk, product in get_product_model()._default_manager.in_bulk(purchased).items()
    }
    for user_id, session_key, kind, product_id, created_at in events:
        shopper = shoppers.get(_key(user_id, session_key))
        if shopper is None or created_at < shopper.assigned_at:
            continue
        end = arms[shopper.arm_id].stopped_at or experiment.stopped_at
        if end is not None and created_at > end:
            continue
        if kind == InteractionKind.ADD_TO_CART:
            shopper.carts += 1
        else:
            shopper.purchases += 1
            shopper.revenue += prices.get(product_id, 0.0)

    data = {pk: ArmData() for pk in arms}
    for shopper in shoppers.values():
        data[shopper.arm_id].rows.append(shopper)
    return data


def _arm_figures(data: ArmData) -> dict:
    n = len(data.rows)
    impressions = int(data.column("impressions").sum())
    list_impressions = data.column("list_impressions").sum()
    clicks = int(data.column("clicks").sum())
    carted = int((data.column("carts") > 0).sum())
    converted = int((data.column("purchases") > 0).sum())
    revenue = float(data.column("revenue").sum())
    return {
        "shoppers": n,
        "impressions": impressions,
        "clicks": clicks,
        "ctr": clicks / list_impressions if list_impressions else None,
        "carted_shoppers": carted,
        "cart_rate": carted / n if n else None,
        "converted_shoppers": converted,
        "conversion": converted / n if n else None,
        "revenue": round(revenue, 2),
        "revenue_per_shopper": revenue / n if n else None,
    }


def _compare(control: ArmData, arm: ArmData, alpha: float) -> dict:
    out: dict = {}
    attempts = {
        "ctr": lambda: stats.ratio_difference(
            control.column("clicks"),
            control.column("list_impressions"),
            arm.column("clicks"),
            arm.column("list_impressions"),
            alpha=alpha,
        ),
        "cart_rate": lambda: stats.mean_difference(
            control.column("carts") > 0, arm.column("carts") > 0, alpha=alpha
        ),
        "conversion": lambda: stats.mean_difference(
            control.column("purchases") > 0, arm.column("purchases") > 0, alpha=alpha
        ),
        "revenue_per_shopper": lambda: stats.mean_difference(
            control.column("revenue"), arm.column("revenue"), alpha=alpha
        ),
    }
    for name, attempt in attempts.items():
        try:
            out[name] = attempt().as_dict()
        except ValueError:
            out[name] = None  # too few shoppers (or impressions) to compare yet
    return out


def experiment_report(*, experiment: Experiment) -> dict:
    """Everything the admin page, the API and ``stylerecs_experiment`` show."""
    arms = sorted(experiment.arms.all(), key=lambda arm: (not arm.is_control, arm.pk))
    data = per_shopper(experiment=experiment)
    control = next((arm for arm in arms if arm.is_control), None)
    confidence = round(100 * (1 - experiment.alpha))
    rows = [
        {
            "id": arm.pk,
            "slug": arm.slug,
            "name": arm.name,
            "is_control": arm.is_control,
            "weight": arm.weight,
            "stopped_at": arm.stopped_at,
            "stop_reason": arm.stop_reason,
            **_arm_figures(data[arm.pk]),
        }
        for arm in arms
    ]
    comparisons = []
    if control is not None:
        for arm in arms:
            if arm.pk != control.pk:
                comparisons.append(
                    {
                        "arm": arm.slug,
                        "name": arm.name,
                        "metrics": _compare(data[control.pk], data[arm.pk], experiment.alpha),
                    }
                )
    srm = stats.sample_ratio_check(
        [row["shoppers"] for row in rows],
        [row["weight"] for row in rows],
        threshold=stylerecs_settings.SRM_P_THRESHOLD,
    )
    plan = experiment_plan(experiment=experiment)
    smallest = min((row["shoppers"] for row in rows), default=0)
    required = plan["required_per_arm"]
    plan.update(
        smallest_arm=smallest,
        ready=required is not None and smallest >= required,
        progress=min(1.0, smallest / required) if required else 0.0,
    )
    warnings = []
    if srm.mismatch:
        warnings.append(
            f"Sample ratio mismatch (p = {srm.p_value:.2g}): the arms did not get the "
            "configured split, so assignment or logging is broken; trust no figure below."
        )
    if required is None:
        warnings.append(f"The plan cannot be met ({plan['error']}): fix it before reading.")
    elif not plan["ready"]:
        warnings.append(
            f"Too early to read: the plan needs {plan['required_per_arm']} shoppers per arm "
            f"and the smallest arm has {smallest}. A difference that looks significant now "
            "may not be: stopping at the first significant peek inflates false positives."
        )
    return {
        "experiment": {
            "id": experiment.pk,
            "slug": experiment.slug,
            "name": experiment.name,
            "status": experiment.status,
            "started_at": experiment.started_at,
            "stopped_at": experiment.stopped_at,
        },
        "method": METHOD,
        "confidence": confidence,
        "plan": plan,
        "srm": srm.as_dict(),
        "warnings": warnings,
        "arms": rows,
        "comparisons": comparisons,
    }


def experiment_plan(*, experiment: Experiment) -> dict:
    """The fixed-horizon plan shown at set-up: shoppers each arm needs (``None``, with
    the reason in ``error``, for a plan that cannot be met)."""
    error = ""
    try:
        required = stats.sample_size_per_arm(
            baseline=experiment.baseline_conversion,
            effect=experiment.minimum_detectable_effect,
            alpha=experiment.alpha,
            power=experiment.power,
        )
    except ValueError as exc:
        required, error = None, str(exc)
    return {
        "error": error,
        "method": "fixed-horizon",
        "baseline_conversion": experiment.baseline_conversion,
        "minimum_detectable_effect": experiment.minimum_detectable_effect,
        "alpha": experiment.alpha,
        "power": experiment.power,
        "required_per_arm": required,
    }


def experiments_guard() -> list[str]:
    """Stop every arm of the running experiment whose conversion is significantly worse
    than the control's (settings ``GUARDRAIL_*``). Returns the stopped arms' slugs.

    Run on a schedule, so the test is sequential (``stats.sequentially_worse``: the mSPRT
    with the plan's minimum detectable effect as its mixture width): however often it
    runs, an arm no worse than the control is stopped with probability under
    ``GUARDRAIL_ALPHA``.
    """
    if not stylerecs_settings.GUARDRAIL_ENABLED:
        return []
    experiment = Experiment.objects.filter(status=ExperimentStatus.RUNNING).first()
    if experiment is None:
        return []
    arms = list(experiment.arms.all())
    control = next((arm for arm in arms if arm.is_control), None)
    if control is None:
        return []
    data = per_shopper(experiment=experiment)
    minimum = stylerecs_settings.GUARDRAIL_MIN_SHOPPERS
    alpha = stylerecs_settings.GUARDRAIL_ALPHA
    base = data[control.pk].column("purchases") > 0
    stopped = []
    for arm in arms:
        if arm.is_control or arm.stopped_at is not None:
            continue
        treated = data[arm.pk].column("purchases") > 0
        if min(base.size, treated.size) < max(minimum, 2):
            continue
        ratio, _diff = stats.msprt_statistic(
            base, treated, tau=experiment.minimum_detectable_effect
        )
        if stats.sequentially_worse(
            base, treated, tau=experiment.minimum_detectable_effect, alpha=alpha
        ):
            reason = (
                f"Guard rail: conversion {treated.mean():.2%} against the control's "
                f"{base.mean():.2%} with {treated.size} and {base.size} shoppers "
                f"(sequential test: likelihood ratio {ratio:.3g} >= 1/{alpha})."
            )
            if arm_stop(arm=arm, reason=reason):
                stopped.append(arm.slug)
    return stopped
