"""Experiment reports, the SRM check, the guard rail, and where staff read them: the
admin page, the staff API and ``manage.py stylerecs_experiment``.

Covers stylerecs/services/experiment_analysis.py, stylerecs/admin/experiments.py,
stylerecs/api/experiments.py and the management command.
"""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from stylerecs.assignment import treatment_for
from stylerecs.models import Arm, Assignment, Interaction, Surface
from stylerecs.services.events import interaction_record
from stylerecs.services.experiment_analysis import experiment_report, experiments_guard
from stylerecs.services.experiments import arm_stop, impressions_log
from stylerecs.services.preferences import personalisation_set
from stylerecs.shoppers import Shopper, new_anon_id

from .test_experiments import anon_in, make_experiment

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def running(django_capture_on_commit_callbacks):
    from stylerecs.services.experiments import experiment_start

    with django_capture_on_commit_callbacks(execute=True):
        return experiment_start(experiment=make_experiment())


def visit(experiment, arm: str, products, *, clicks=0, carts=0, buys=0) -> Shopper:
    """A shopper of ``arm`` sees ``products`` on For you, clicks, carts and buys the
    first ones, through the same services the storefront calls."""
    shopper = anon_in(experiment, arm)
    impressions_log(
        shopper=shopper,
        surface=Surface.FOR_YOU,
        items=[(p.pk, None) for p in products],
        treatment=treatment_for(shopper=shopper),
    )
    for kind, count in (("view", clicks), ("add_to_cart", carts), ("purchase", buys)):
        for product in products[:count]:
            interaction_record(shopper=shopper, product_id=product.pk, kind=kind)
    return shopper


def arm(report, slug):
    return next(row for row in report["arms"] if row["slug"] == slug)


def test_report_counts_per_arm_per_shopper(running, make_product):
    products = [make_product() for _ in range(4)]  # 10.00 each
    visit(running, "control", products, clicks=2, buys=1)
    visit(running, "control", products)
    visit(running, "control", products, clicks=1)
    visit(running, "original", products, clicks=1, carts=1, buys=2)
    visit(running, "original", products)
    # Excluded: turned personalisation off after being exposed.
    gone = visit(running, "control", products, clicks=4, buys=4)
    personalisation_set(shopper=gone, enabled=False)

    report = experiment_report(experiment=running)
    control, original = arm(report, "control"), arm(report, "original")
    assert (control["shoppers"], original["shoppers"]) == (3, 2)
    assert (control["impressions"], original["impressions"]) == (12, 8)
    assert (control["clicks"], original["clicks"]) == (3, 1)
    assert control["ctr"] == pytest.approx(3 / 12) and original["ctr"] == pytest.approx(1 / 8)
    assert (control["cart_rate"], original["cart_rate"]) == (0, 0.5)
    assert control["conversion"] == pytest.approx(1 / 3) and original["conversion"] == 0.5
    assert control["revenue_per_shopper"] == pytest.approx(10 / 3)
    assert original["revenue_per_shopper"] == pytest.approx(10.0)
    metrics = report["comparisons"][0]["metrics"]
    assert metrics["conversion"]["difference"] == pytest.approx(0.5 - 1 / 3)
    assert metrics["conversion"]["low"] < metrics["conversion"]["difference"]
    assert metrics["ctr"]["difference"] == pytest.approx(1 / 8 - 3 / 12)
    assert report["confidence"] == 95 and report["plan"]["method"] == "fixed-horizon"
    assert not report["plan"]["ready"]
    assert any("Too early to read" in w for w in report["warnings"])


def test_events_outside_the_shoppers_time_in_the_arm_do_not_count(running, make_product):
    products = [make_product() for _ in range(2)]
    early = anon_in(running, "original")
    interaction_record(shopper=early, product_id=products[0].pk, kind="purchase")  # before
    impressions_log(
        shopper=early,
        surface=Surface.FOR_YOU,
        items=[(p.pk, None) for p in products],
        treatment=treatment_for(shopper=early),
    )
    stopped = Arm.objects.get(experiment=running, slug="original")
    arm_stop(arm=stopped, reason="test")
    interaction_record(shopper=early, product_id=products[1].pk, kind="purchase")  # after
    row = arm(experiment_report(experiment=running), "original")
    assert (row["shoppers"], row["converted_shoppers"]) == (1, 0)


def bulk_assign(experiment, counts: dict[str, int]) -> dict[str, list[Shopper]]:
    shoppers = {}
    for slug, n in counts.items():
        target = experiment.arms.get(slug=slug)
        shoppers[slug] = [Shopper.anonymous(new_anon_id()) for _ in range(n)]
        Assignment.objects.bulk_create(
            Assignment(experiment=experiment, arm=target, **s.fields()) for s in shoppers[slug]
        )
    return shoppers


def test_srm_check_fires_on_a_skewed_split(running):
    bulk_assign(running, {"control": 300, "original": 150})
    report = experiment_report(experiment=running)
    assert report["srm"]["mismatch"] and report["srm"]["p_value"] < 0.001
    assert any("Sample ratio mismatch" in w for w in report["warnings"])


def test_srm_check_is_quiet_on_a_fair_split(running):
    bulk_assign(running, {"control": 200, "original": 190})
    report = experiment_report(experiment=running)
    assert not report["srm"]["mismatch"]
    assert not any("Sample ratio" in w for w in report["warnings"])


def buy(shoppers, product):
    Interaction.objects.bulk_create(
        Interaction(product=product, kind="purchase", **s.fields()) for s in shoppers
    )


def test_guard_rail_stops_an_arm_that_converts_worse_and_keeps_its_data(
    running, make_product, settings, django_capture_on_commit_callbacks
):
    settings.STYLERECS = {**settings.STYLERECS, "GUARDRAIL_MIN_SHOPPERS": 100}
    # The sequential test's mixture width is the plan's effect: ten points here.
    running.minimum_detectable_effect = 0.1
    running.save()
    shoppers = bulk_assign(running, {"control": 150, "original": 150})
    product = make_product()
    buy(shoppers["control"][:45], product)  # 30% against 1%
    buy(shoppers["original"][:1], product)
    with django_capture_on_commit_callbacks(execute=True):
        assert experiments_guard() == ["original"]
    stopped = Arm.objects.get(experiment=running, slug="original")
    assert stopped.stopped_at is not None and "Guard rail" in stopped.stop_reason
    served = treatment_for(shopper=shoppers["original"][0])
    assert served.arm == stopped and served.served.is_control and served.show_variants
    assert Assignment.objects.filter(arm=stopped).count() == 150  # the data stays
    report = experiment_report(experiment=running)
    assert arm(report, "original")["shoppers"] == 150
    assert arm(report, "original")["converted_shoppers"] == 1
    assert experiments_guard() == []  # stopped once


def test_guard_rail_leaves_a_better_or_small_arm_and_obeys_its_switch(
    running, make_product, settings
):
    product = make_product()
    running.minimum_detectable_effect = 0.1
    running.save()
    shoppers = bulk_assign(running, {"control": 150, "original": 150})
    buy(shoppers["original"][:45], product)  # better, not worse
    assert experiments_guard() == []
    buy(shoppers["control"][:150], product)  # now far worse...
    settings.STYLERECS = {**settings.STYLERECS, "GUARDRAIL_ENABLED": False}
    assert experiments_guard() == []  # ...but the guard rail is off
    settings.STYLERECS = {**settings.STYLERECS, "GUARDRAIL_ENABLED": True}
    settings.STYLERECS = {**settings.STYLERECS, "GUARDRAIL_MIN_SHOPPERS": 1000}
    assert experiments_guard() == []  # too few shoppers to judge
    assert not Arm.objects.filter(stopped_at__isnull=False).exists()


@pytest.fixture
def staff(db):
    return User.objects.create_superuser("boss", "boss@example.com", "pw")


def test_admin_page_shows_plan_report_and_plot(running, make_product, staff):
    products = [make_product() for _ in range(3)]
    for i in range(3):
        visit(running, "control", products, clicks=1, buys=i % 2)
        visit(running, "original", products, clicks=2, buys=1)
    client = Client()
    client.force_login(staff)
    page = client.get(reverse("admin:stylerecs_experiment_change", args=[running.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "shoppers per arm to detect a change of 1.0 points" in html
    assert 'id="experiment-report"' in html and "<svg" in html and "Too early to read" in html
    assert '<td data-metric="shoppers">3</td>' in html
    assert '<td data-metric="impressions">9</td>' in html
    assert "Stop the experiment" in html and "Save and start" not in html
    listing = client.get(reverse("admin:stylerecs_experiment_changelist"))
    assert listing.status_code == 200 and "Photos" in listing.content.decode()
    log = client.get(reverse("admin:stylerecs_impression_changelist") + "?surface=for_you")
    assert log.status_code == 200 and log.content.decode().count('class="field-position"') == 18


def test_admin_actions_start_and_stop_with_clear_errors(staff):
    lonely = make_experiment(slug="lonely", arms=[{"slug": "only", "is_control": True}])
    client = Client()
    client.force_login(staff)
    url = reverse("admin:stylerecs_experiment_changelist")
    response = client.post(
        url, {"action": "start_selected", "_selected_action": [lonely.pk]}, follow=True
    )
    assert "needs at least two arms" in response.content.decode()
    good = make_experiment(slug="good")
    client.post(url, {"action": "start_selected", "_selected_action": [good.pk]})
    good.refresh_from_db()
    assert good.status == "running"
    page = client.get(reverse("admin:stylerecs_experiment_change", args=[good.pk]))
    assert page.status_code == 200
    client.post(url, {"action": "stop_selected", "_selected_action": [good.pk]})
    good.refresh_from_db()
    assert good.status == "stopped"


def test_staff_api_report_and_schema(running, make_product, staff):
    products = [make_product() for _ in range(2)]
    visit(running, "control", products, clicks=1, buys=1)
    visit(running, "original", products)
    visit(running, "original", products, clicks=2)
    client = Client()
    assert client.get("/api/experiments/").status_code in (401, 403)
    shopper = User.objects.create_user("shopper", password="pw")
    client.force_login(shopper)
    assert client.get("/api/experiments/photos/report/").status_code == 403
    client.force_login(staff)
    listing = client.get("/api/experiments/").json()
    assert listing["results"][0]["slug"] == "photos"
    assert listing["results"][0]["plan"]["required_per_arm"] > 1000
    report = client.get("/api/experiments/photos/report/").json()
    rows = {row["slug"]: row for row in report["arms"]}
    assert rows["control"]["shoppers"] == 1 and rows["original"]["shoppers"] == 2
    assert rows["original"]["clicks"] == 2 and rows["control"]["conversion"] == 1.0
    assert set(report["comparisons"][0]["metrics"]) == {
        "ctr",
        "cart_rate",
        "conversion",
        "revenue_per_shopper",
    }
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/experiments/{slug}/report/" in schema["paths"]
    assert "Report" in schema["components"]["schemas"]


def test_command_prints_the_report(running, make_product):
    products = [make_product() for _ in range(2)]
    for _ in range(2):
        visit(running, "control", products, clicks=1, buys=1)
        visit(running, "original", products, clicks=2)
    out = StringIO()
    call_command("stylerecs_experiment", "photos", stdout=out)
    text = out.getvalue()
    assert "Control (control)" in text and "Original" in text
    assert "Sample ratio check" in text and "Too early to read" in text
    out = StringIO()
    call_command("stylerecs_experiment", "photos", "--json", stdout=out)
    assert json.loads(out.getvalue())["arms"][1]["clicks"] == 4
    out = StringIO()
    call_command("stylerecs_experiment", stdout=out)
    assert "photos" in out.getvalue() and "running" in out.getvalue()
    with pytest.raises(CommandError, match="No experiment"):
        call_command("stylerecs_experiment", "nope")
    assert timezone.now() >= running.started_at
