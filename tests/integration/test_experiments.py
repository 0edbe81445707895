"""Experiments on the storefront: assignment, exposure logging and what each arm shows.

Covers stylerecs/assignment.py, stylerecs/services/experiments.py and the experiment
parts of the storefront views, the template tags and the login merge.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from stylerecs.assignment import bucket, pick_arm, treatment_for
from stylerecs.models import (
    ArmRanking,
    ArmVariants,
    Assignment,
    Experiment,
    Impression,
    Interaction,
    Surface,
)
from stylerecs.services.experiments import experiment_start, experiment_stop
from stylerecs.services.preferences import personalisation_set, preferences_set
from stylerecs.shoppers import Shopper, new_anon_id
from stylerecs.stats import sample_ratio_check
from tests.integration.experiment_setup import anon_in, client_in, make_experiment

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- assignment ----------------------------------------------------------------------


def test_assignment_is_uniform_over_the_split_and_stable():
    """10,000 shoppers over a 3:1 split: the counts pass the chi-square test, and each
    shopper's point is the same every time it is computed."""
    experiment = make_experiment(
        arms=[{"slug": "a", "is_control": True, "weight": 3}, {"slug": "b", "weight": 1}]
    )
    arms = list(experiment.arms.all())
    keys = [Shopper.anonymous(new_anon_id()).key for _ in range(5000)]
    keys += [Shopper.for_user(pk).key for pk in range(1, 5001)]
    picked = [pick_arm(arms, bucket(salt=experiment.salt, shopper_key=k)).slug for k in keys]
    counts = [picked.count("a"), picked.count("b")]
    assert not sample_ratio_check(counts, [3, 1]).mismatch, counts
    assert abs(counts[0] / len(keys) - 0.75) < 0.02
    again = [pick_arm(arms, bucket(salt=experiment.salt, shopper_key=k)).slug for k in keys]
    assert again == picked
    # Another salt reshuffles: about 3/8 of the shoppers change arm (3/4*1/4*2).
    moved = sum(
        pick_arm(arms, bucket(salt="other", shopper_key=k)).slug != p
        for k, p in zip(keys, picked, strict=True)
    )
    assert 0.33 < moved / len(keys) < 0.42


def test_treatment_for_is_stable_and_stored_at_first_exposure(start, make_product):
    experiment = start(make_experiment())
    shopper = anon_in(experiment, "original")
    first = treatment_for(shopper=shopper)
    assert first.arm.slug == "original" and not first.stored and not first.show_variants
    assert treatment_for(shopper=shopper).arm == first.arm
    assert not Assignment.objects.exists()  # asking is free; showing assigns
    product = make_product()
    client = Client()
    session = client.session
    session["stylerecs_anon_id"] = shopper.anon_id
    session.save()
    client.get(reverse("stylerecs:for_you"))
    assignment = Assignment.objects.get()
    assert (assignment.session_key, assignment.arm.slug) == (shopper.anon_id, "original")
    assert treatment_for(shopper=shopper).stored
    assert Impression.objects.filter(product=product, arm=assignment.arm).exists()


def test_assignment_sticks_across_login(start, make_product):
    """A visitor in one arm signs in to an account the hash would put in the other arm:
    they stay in the arm they saw, and their impressions become the account's."""
    experiment = start(make_experiment())
    make_product()
    client = client_in(experiment, "original")
    client.get(reverse("stylerecs:for_you"))
    arms = list(experiment.arms.all())
    user = next(
        u
        for u in (User.objects.create_user(f"u{i}", password="pw") for i in range(100))
        if pick_arm(arms, bucket(salt=experiment.salt, shopper_key=f"u:{u.pk}")).slug == "control"
    )
    assert client.login(username=user.username, password="pw")
    account = Shopper.for_user(user)
    assert treatment_for(shopper=account).arm.slug == "original"
    assert Assignment.objects.get().user_id == user.pk
    assert Impression.objects.filter(user=user).count() >= 1
    assert not Impression.objects.filter(user=None).exists()
    client.get(reverse("stylerecs:for_you"))
    assert set(Impression.objects.values_list("arm__slug", flat=True)) == {"original"}


def test_an_account_already_assigned_keeps_its_arm_at_login(start, make_product):
    experiment = start(make_experiment())
    make_product()
    user = User.objects.create_user("ada", password="pw")
    mine = treatment_for(shopper=Shopper.for_user(user)).arm
    Assignment.objects.create(experiment=experiment, arm=mine, user=user)
    other = "control" if mine.slug == "original" else "original"
    client = client_in(experiment, other)
    client.get(reverse("stylerecs:for_you"))
    assert client.login(username="ada", password="pw")
    assert list(Assignment.objects.values_list("user_id", "arm__slug")) == [(user.pk, mine.slug)]


def test_personalisation_off_shoppers_are_neither_assigned_nor_logged(start, make_product):
    experiment = start(make_experiment())
    make_product()
    client = client_in(experiment, "original")
    shopper = Shopper.anonymous(client.session["stylerecs_anon_id"])
    personalisation_set(shopper=shopper, enabled=False)
    assert treatment_for(shopper=shopper).excluded
    for url in (reverse("stylerecs:for_you"), reverse("shop:catalogue")):
        assert client.get(url).status_code == 200
    assert not Assignment.objects.exists() and not Impression.objects.exists()


def test_nothing_is_assigned_without_a_running_experiment(make_product):
    make_product()
    client = Client()
    client.get(reverse("shop:catalogue"))
    assert "stylerecs_anon_id" not in client.session  # no id made for nothing
    assert treatment_for(shopper=Shopper.anonymous(new_anon_id())).arm is None


def test_start_validates_and_only_one_experiment_runs(start):
    with pytest.raises(ValidationError, match="at least two arms"):
        start(make_experiment(slug="lonely", arms=[{"slug": "only", "is_control": True}]))
    with pytest.raises(ValidationError, match="one arm must be the control"):
        start(make_experiment(slug="headless", arms=[{"slug": "a"}, {"slug": "b"}]))
    first = start(make_experiment(slug="first"))
    with pytest.raises(ValidationError, match="one experiment runs at a time"):
        start(make_experiment(slug="second"))
    stopped = experiment_stop(experiment=first)
    assert stopped.status == "stopped" and stopped.stopped_at <= timezone.now()
    with pytest.raises(ValidationError, match="is stopped"):
        experiment_start(experiment=stopped)


# --- what each arm shows, and the exposure log ---------------------------------------


def test_a_page_of_24_cards_costs_a_bounded_number_of_queries(
    start, shop, settings, django_assert_max_num_queries
):
    """For you with 24 cards: logging adds at most four queries at a shopper's first
    exposure (the arm still there, the assignment's lookup and INSERT, one INSERT of all
    24 impressions), two afterwards."""
    client, url = shop["client"], reverse("stylerecs:for_you")
    settings.STYLERECS = {**settings.STYLERECS, "IMPRESSIONS_ENABLED": False}
    client.get(url)  # warm: session, caches
    with CaptureQueriesContext(connection) as off:
        assert client.get(url).status_code == 200
    settings.STYLERECS = {**settings.STYLERECS, "IMPRESSIONS_ENABLED": True}
    start(make_experiment())
    # + the running experiment and its arms (then cached), the arm still there, the
    # assignment's lookup and INSERT at first exposure, and one INSERT of all 24.
    with django_assert_max_num_queries(len(off) + 6) as on:
        assert client.get(url).status_code == 200
    assert Impression.objects.count() == 24
    inserts = [q for q in on.captured_queries if q["sql"].startswith('INSERT INTO "stylerecs_imp')]
    assert len(inserts) == 1
    with django_assert_max_num_queries(len(off) + 2):  # assigned and cached now
        client.get(url)
    assert Impression.objects.count() == 48
    positions = sorted(
        Impression.objects.filter(surface=Surface.FOR_YOU).values_list("position", flat=True)
    )
    assert positions == sorted(list(range(1, 25)) * 2)


def test_each_arm_shows_its_treatment(start, shop):
    """Control: the shopper's style and ranking; original photos; popularity ranking."""
    experiment = start(
        make_experiment(
            arms=[
                {"slug": "control", "is_control": True},
                {"slug": "original", "variants": ArmVariants.ORIGINAL},
                {"slug": "popular", "ranking": ArmRanking.POPULAR},
            ]
        )
    )
    user = shop["user"]
    url = reverse("stylerecs:for_you")
    seen = {}
    for slug in ("control", "original", "popular"):
        arm = experiment.arms.get(slug=slug)
        Assignment.objects.update_or_create(experiment=experiment, user=user, defaults={"arm": arm})
        html = shop["client"].get(url).content.decode()
        seen[slug] = html
        logged = Impression.objects.filter(arm=arm)
        assert logged.count() == 24
        with_variant = logged.exclude(variant=None).count()
        assert with_variant == (0 if slug == "original" else 24), slug
    assert "Because you like Noir" in seen["control"] and "sr-style-tag" in seen["control"]
    assert "sr-style-tag" not in seen["original"]
    assert "Because you like Noir" not in seen["popular"]
    # The popularity ranking; with no interactions yet its products are the newest.
    assert "New in the shop" in seen["popular"]


def test_events_link_to_the_impression_they_followed(start, shop):
    client, product = shop["client"], shop["products"][5]
    start(make_experiment())
    client.get(reverse("shop:catalogue"))
    card = Impression.objects.get(surface=Surface.CATALOGUE, product=product)
    client.get(product.get_absolute_url())
    view = Interaction.objects.get(kind="view", product=product)
    assert view.impression == card  # the click came from the catalogue card
    page = Impression.objects.get(surface=Surface.PRODUCT, product=product)
    client.post(reverse("shop:cart_add", args=[product.pk]))
    assert Interaction.objects.get(kind="add_to_cart").impression == page
    other = shop["products"][20]  # never shown on a page this shopper saw: page 2
    Interaction.objects.filter(product=other).delete()
    client.post(reverse("stylerecs:event"), {"product": other.pk, "kind": "like"})
    assert Interaction.objects.get(product=other).impression is None


def test_arm_template_tag_names_the_shoppers_arm(start, shop):
    experiment = start(make_experiment())
    request = RequestFactory().get("/")
    request.user = shop["user"]
    request.session = {}
    arm = treatment_for(shopper=Shopper.for_user(shop["user"])).arm
    template = Template(
        '{% load stylerecs %}{% stylerecs_arm "photos" as arm %}[{{ arm }}]'
        '{% stylerecs_arm "nope" as other %}[{{ other }}]'
    )
    assert template.render(Context({"request": request})) == f"[{arm.slug}][]"
    experiment_stop(experiment=experiment)


def test_quiz_and_product_page_log_impressions_and_honour_a_hidden_style(
    start, make_product, make_style, make_variant
):
    """An arm that hides one style: the product page leads with another style, the quiz
    still logs what it showed, and both surfaces' impressions carry the arm."""
    noir, sunny = make_style("noir"), make_style("sunny", source="coffee")
    products = [make_product(title=f"Print {i}") for i in range(2)]
    variants = {(p.pk, s.slug): make_variant(p, s) for p in products for s in (noir, sunny)}
    experiment = start(
        make_experiment(
            arms=[
                {"slug": "control", "is_control": True},
                {"slug": "no-noir", "hidden_style": noir},
            ]
        )
    )
    client = client_in(experiment, "no-noir")
    shopper = Shopper.anonymous(client.session["stylerecs_anon_id"])
    preferences_set(shopper=shopper, weights={noir.pk: 1.0, sunny.pk: 0.5})
    html = client.get(products[0].get_absolute_url()).content.decode()
    assert 'data-style="sunny"' in html and 'data-style="noir"' not in html
    shown = Impression.objects.get(surface=Surface.PRODUCT)
    assert shown.variant == variants[(products[0].pk, "sunny")]
    assert shown.arm.slug == "no-noir" and shown.position == 1
    assert client.get(reverse("stylerecs:quiz")).status_code == 200
    quiz = Impression.objects.filter(surface=Surface.QUIZ)
    assert quiz.count() == 4 and set(quiz.values_list("arm__slug", flat=True)) == {"no-noir"}


def test_experiment_settings_are_checked(settings):
    from stylerecs.experiment_checks import check_experiment_settings

    settings.STYLERECS = {
        **settings.STYLERECS,
        "GUARDRAIL_ALPHA": 2,
        "IMPRESSIONS_ENABLED": "yes",
        "ATTRIBUTION_WINDOW_SECONDS": -1,
    }
    ids = sorted(error.id for error in check_experiment_settings())
    assert ids == ["stylerecs.E160", "stylerecs.E161", "stylerecs.E162"]


def test_a_plan_that_cannot_be_met_is_a_form_error():
    experiment = Experiment(name="x", slug="x", baseline_conversion=0.95)
    experiment.minimum_detectable_effect = 0.1
    with pytest.raises(ValidationError, match="below 1"):
        experiment.full_clean()
    experiment.minimum_detectable_effect = -0.1
    with pytest.raises(ValidationError, match="above 0"):
        experiment.full_clean()


def test_a_stored_plan_that_cannot_be_met_is_reported_not_a_crash():
    from stylerecs.services.experiment_analysis import experiment_report

    experiment = make_experiment()
    Experiment.objects.filter(pk=experiment.pk).update(
        baseline_conversion=0.95, minimum_detectable_effect=0.1
    )
    experiment.refresh_from_db()
    report = experiment_report(experiment=experiment)
    assert report["plan"]["required_per_arm"] is None and not report["plan"]["ready"]
    assert "cannot be met" in report["warnings"][-1]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_impressions_commit_without_waiting_for_the_disk(
    make_product, settings
):
    """Autocommit (no ATOMIC_REQUESTS): on PostgreSQL the log's own transaction commits
    asynchronously; inside the shop's transaction it is a plain INSERT of that one."""
    from stylerecs.assignment import NO_EXPERIMENT
    from stylerecs.services.experiments import impressions_log

    products = [make_product() for _ in range(3)]
    shopper = Shopper.anonymous(new_anon_id())
    items = [(p.pk, None) for p in products]
    with CaptureQueriesContext(connection) as outside:
        impressions_log(
            shopper=shopper, surface=Surface.CATALOGUE, items=items, treatment=NO_EXPERIMENT
        )
    assert Impression.objects.filter(session_key=shopper.anon_id).count() == 3
    sql = " ".join(q["sql"] for q in outside.captured_queries)
    assert ("synchronous_commit" in sql) == (connection.vendor == "postgresql")
    from django.db import transaction

    with transaction.atomic(), CaptureQueriesContext(connection) as inside:
        impressions_log(
            shopper=shopper, surface=Surface.CATALOGUE, items=items, treatment=NO_EXPERIMENT
        )
    assert "synchronous_commit" not in " ".join(q["sql"] for q in inside.captured_queries)
    settings.STYLERECS = {**settings.STYLERECS, "IMPRESSIONS_ASYNC_COMMIT": False}
    with CaptureQueriesContext(connection) as plain:
        impressions_log(
            shopper=shopper, surface=Surface.CATALOGUE, items=items, treatment=NO_EXPERIMENT
        )
    assert len(plain.captured_queries) == 1
    assert Impression.objects.filter(session_key=shopper.anon_id).count() == 9


@pytest.mark.django_db(transaction=True)
def test_a_deleted_experiment_is_forgotten_and_a_stale_cached_arm_is_no_500(shop):
    """Tried: delete the running experiment as the admin does (the cache is cleared when
    that commits), then put the stale experiment back into the cache, as another
    process's cache would still hold it, and open For you as a new shopper. Before, the
    assignment's INSERT failed on its foreign key at commit: a 500 (seen in a fresh
    clone's run, where one test's experiment outlived its rows in the cache)."""
    from django.core.cache import cache

    from stylerecs.assignment import RUNNING_CACHE_KEY, running_experiment

    experiment = make_experiment()
    experiment_start(experiment=experiment)
    stale = running_experiment()
    assert stale is not None and cache.get(RUNNING_CACHE_KEY)
    experiment.delete()
    assert cache.get(RUNNING_CACHE_KEY) is None
    assert running_experiment() is None

    cache.set(RUNNING_CACHE_KEY, stale, 30)
    response = Client().get(reverse("stylerecs:for_you"))
    assert response.status_code == 200
    assert not Assignment.objects.exists()
    assert cache.get(RUNNING_CACHE_KEY) is None  # the page forgot the stale experiment
