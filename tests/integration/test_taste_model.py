"""The hybrid taste model through Django: training, keeping, scoring, policies, worker.

Covers stylerecs/services/taste_training.py, services/taste_scoring.py, the
``stylerecs_recommend`` command, the taste tasks and the TrainedTasteModel admin. The
catalogue is the planted-looks one (tests/integration/looks.py, embedded by the real
engine); shoppers buy planted pairs of products from different looks, a co-purchase no
photo shows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import torch
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from stylerecs.models import Interaction, Recommendation, TasteModelStatus, TrainedTasteModel
from stylerecs.services.profiles import profiles_refresh
from stylerecs.services.recommendations import (
    recommendations_compute,
    recommendations_compute_all,
)
from stylerecs.services.scoring_inputs import catalogue_forget, catalogue_load
from stylerecs.services.taste_scoring import _item_side as taste_item_side
from stylerecs.services.taste_scoring import taste_model_forget
from stylerecs.services.taste_training import TrainingRefused, taste_model_train
from stylerecs.shoppers import Shopper

from .conftest import wait_for
from .looks import make_looks

pytest.importorskip("implicit")

# Products bought together, each pair across two looks.
PAIRS = [
    (("coffee", 0), ("rocket", 1)),
    (("astronaut", 2), ("chelsea", 3)),
    (("camera", 1), ("coffee", 3)),
    (("rocket", 2), ("astronaut", 0)),
    (("chelsea", 1), ("camera", 3)),
]
SMALL_TUNING = {
    "fit": {"factors": [8], "regularization": [0.05], "half_life_days": [60.0]},
    "blend": {"visual_weight": [0.0, 0.3], "popularity_weight": [0.1]},
}


@pytest.fixture(autouse=True)
def fresh_state(settings):
    settings.STYLERECS = {
        **settings.STYLERECS,
        "ISOLATE_DECODING": False,
        "EMBEDDING_WEIGHTS": None,
        "TASTE_MIN_EVENTS": 40,
        "TASTE_VALIDATION_FRACTION": 0.25,
        "TASTE_TUNING": SMALL_TUNING,
        "TASTE_THREADS": 1,
    }
    catalogue_forget()
    taste_model_forget()
    yield
    catalogue_forget()
    taste_model_forget()


def at(shopper, product, kind, days_ago):
    """An event ``days_ago``, stored directly: no per-shopper rescoring is enqueued, so
    nothing but the tasks a test sends writes recommendations."""
    event = Interaction.objects.create(product_id=product.pk, kind=kind, **shopper.fields())
    Interaction.objects.filter(pk=event.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )


def planted_shop(make_product, fans_per_pair=4):
    """The looks, profiles, and fans who buy both products of one pair days apart."""
    looks = make_looks(make_product)
    profiles_refresh()
    users = get_user_model().objects
    fans = []
    for p, (first, second) in enumerate(PAIRS):
        for f in range(fans_per_pair):
            fan = Shopper.for_user(users.create_user(f"fan{p}-{f}"))
            a, b = looks[first[0]][first[1]], looks[second[0]][second[1]]
            if f % 2:
                a, b = b, a
            start = 60 - 6 * f - p
            at(fan, a, "view", start + 1)
            at(fan, a, "purchase", start)
            at(fan, b, "add_to_cart", start - 3)
            at(fan, b, "purchase", start - 4)
            fans.append(fan)
    return looks, fans


def recommended(shopper):
    return list(Recommendation.objects.filter(shopper.q()).order_by("rank"))


@pytest.mark.django_db
def test_training_keeps_a_model_that_recovers_a_planted_cobuy(make_product, admin_client):
    looks, _ = planted_shop(make_product)
    record = taste_model_train()
    assert record.status == TasteModelStatus.ACTIVE and record.version == 1
    assert default_storage.exists(record.file.name)
    assert record.events == Interaction.objects.count() and record.products == 20
    assert {"popularity", "collaborative only", "visual only"} <= set(record.baselines)
    assert record.metrics["recall@10"] >= record.baselines["visual only"]["recall@10"]
    assert len(record.trials) == 2 and record.validation_from < timezone.now()

    shopper = Shopper.for_user(get_user_model().objects.create_user("newbie"))
    at(shopper, looks["coffee"][0], "purchase", 0)
    recommendations_compute(shopper=shopper)
    first = recommended(shopper)[0]
    # rocket 1 looks nothing like coffee 0: only the co-purchases put it first.
    assert first.product_id == looks["rocket"][1].pk
    assert first.reason == "Often bought with coffee 0"

    page = admin_client.get(reverse("admin:stylerecs_trainedtastemodel_change", args=[record.pk]))
    assert page.status_code == 200
    assert b"recall@10" in page.content and b"popularity" in page.content
    listing = admin_client.get(reverse("admin:stylerecs_trainedtastemodel_changelist"))
    assert listing.status_code == 200 and b"In service" in listing.content
    progress = admin_client.get(
        reverse("admin:stylerecs_trainedtastemodel_progress", args=[record.pk])
    ).json()
    assert progress["percent"] == 100 and progress["finished"]


@pytest.mark.django_db
def test_a_new_model_replaces_the_one_in_service_only_if_it_beats_it(make_product, settings):
    planted_shop(make_product)
    first = taste_model_train()
    # A search space with the looks alone cannot beat the model in service: what these
    # shoppers buy together is in no photo.
    settings.STYLERECS = {
        **settings.STYLERECS,
        "TASTE_TUNING": {
            "fit": {"factors": [8]},
            "blend": {"cf_weight": [0.0], "popularity_weight": [0.0], "visual_weight": [1.0]},
        },
    }
    second = taste_model_train()
    assert second.status == TasteModelStatus.REJECTED and not second.file
    assert second.baselines["in service"]["version"] == first.version
    assert second.metrics["recall@10"] < second.baselines["in service"]["recall@10"]
    first.refresh_from_db()
    assert first.status == TasteModelStatus.ACTIVE


@pytest.mark.django_db
def test_the_model_in_service_reads_popularity_over_its_tuned_window(make_product, settings):
    looks, _ = planted_shop(make_product)  # their events: 34 to 61 days ago
    tuning = {**SMALL_TUNING, "blend": {**SMALL_TUNING["blend"], "popularity_days": [5.0]}}
    settings.STYLERECS = {**settings.STYLERECS, "TASTE_TUNING": tuning, "POPULARITY_DAYS": 90}
    record = taste_model_train()
    assert record.status == TasteModelStatus.ACTIVE and record.params["popularity_days"] == 5.0
    # Bought yesterday: over 90 days (the shop's window) a minor product, over 5 the top.
    recent = looks["camera"][2]
    at(Shopper.for_user(get_user_model().objects.create_user("buyer")), recent, "purchase", 1)
    catalogue_forget()
    catalogue = catalogue_load(now=timezone.now())
    _, side, _ = taste_item_side(record, catalogue)
    row = catalogue.index[recent.pk]
    assert catalogue.popularity[row] < 1 and int((catalogue.popularity > 0).sum()) > 1
    assert side.popularity[row] == 1 and int((side.popularity > 0).sum()) == 1
    # The blend's popularity column is that one (what every scoring chunk multiplies).
    assert torch.equal(side.matrix[:, -1], side.popularity)


@pytest.mark.django_db
def test_training_with_too_few_events_is_refused_and_recorded(make_product):
    make_looks(make_product)
    profiles_refresh()
    with pytest.raises(TrainingRefused, match="TASTE_MIN_EVENTS"):
        taste_model_train()
    record = TrainedTasteModel.objects.get()
    assert record.status == TasteModelStatus.FAILED and "0 events" in record.error
    with pytest.raises(CommandError, match="Not trained"):
        call_command("stylerecs_recommend", "--train", verbosity=0)
    with pytest.raises(CommandError, match="--train, --all"):
        call_command("stylerecs_recommend")
    with pytest.raises(CommandError, match="positive"):
        call_command("stylerecs_recommend", "--all", "--chunk-size", "0")


@pytest.mark.django_db
def test_exclusion_policies_hold_with_the_model_in_service(make_product, settings):
    looks, _ = planted_shop(make_product)
    taste_model_train()
    shopper = Shopper.for_user(get_user_model().objects.create_user("ada"))
    liked, bought, disliked, viewed, gone = (
        looks["coffee"][0],
        looks["coffee"][1],
        looks["coffee"][2],
        looks["rocket"][1],
        looks["coffee"][3],
    )
    at(shopper, liked, "like", 1)
    at(shopper, bought, "purchase", 1)
    at(shopper, disliked, "dislike", 1)
    at(shopper, viewed, "view", 1)
    gone.available = False
    gone.save()

    def shown():
        catalogue_forget()
        recommendations_compute(shopper=shopper)
        return [r.product_id for r in recommended(shopper)]

    default = shown()
    assert len(default) == 17  # 20 less bought, disliked and unavailable
    assert {liked.pk, viewed.pk} <= set(default[10:])
    assert not {bought.pk, disliked.pk, gone.pk} & set(default)

    base = settings.STYLERECS
    settings.STYLERECS = {**base, "SHOW_AGAIN_INTERACTED": "never"}
    assert not {liked.pk, viewed.pk} & set(shown())
    settings.STYLERECS = {
        **base,
        "SHOW_AGAIN_INTERACTED": "always",
        "SHOW_AGAIN_PURCHASED": True,
        "SHOW_UNAVAILABLE": True,
    }
    everything = shown()
    assert {bought.pk, gone.pk} <= set(everything) and disliked.pk not in everything
    assert viewed.pk in everything[:10]  # its co-buyers' favourite, now allowed up front


@pytest.mark.django_db
def test_command_trains_and_scores_everyone_and_chunks_equal_one_batch(make_product, capsys):
    _, fans = planted_shop(make_product, fans_per_pair=4)
    call_command("stylerecs_recommend", "--train", "--all", "--chunk-size", "3")
    out = capsys.readouterr().out
    assert "Taste model v1 (In service)" in out and f"Scored {len(fans)} shopper(s)" in out

    def stored():
        return {
            fan.key: [(r.product_id, r.reason, r.score) for r in recommended(fan)] for fan in fans
        }

    chunked = stored()
    assert all(len(rows) == 20 - 2 for rows in chunked.values())  # less the two bought
    assert recommendations_compute_all(chunk_size=1000) == len(fans)
    whole = stored()
    # The same products, reasons and scores. A batch of 3 and one of 20 shoppers go
    # through different BLAS and solver kernels (the fold-in is a batched solve), so
    # a float32 score may differ by about 1e-5 (up to 1.5e-5 seen here), and two
    # products whose scores tie to within that may trade places (seen once in a fresh
    # clone). A chunk scored from the wrong events would move scores by far more.
    for key, rows in whole.items():
        by_product = {p: (reason, score) for p, reason, score in rows}
        assert by_product.keys() == {p for p, _, _ in chunked[key]}
        for p, reason, score in chunked[key]:
            assert by_product[p][0] == reason
            assert by_product[p][1] == pytest.approx(score, abs=1e-4)
        for (p, _, score), (q, _, other) in zip(rows, chunked[key], strict=True):
            assert p == q or score == pytest.approx(other, abs=1e-4)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_trains_and_scores_chunks_as_separate_tasks(celery_worker, make_product):
    from stylerecs.tasks import refresh_all_recommendations, train_taste_model

    # The worker has the host's settings, not this test's: TASTE_MIN_EVENTS is 200, and
    # the default TASTE_TUNING grid (24 fits, 1,728 blends each: a minute or two here).
    _, fans = planted_shop(make_product, fans_per_pair=11)
    train_taste_model.delay()
    record = wait_for(
        lambda: TrainedTasteModel.objects.exclude(status=TasteModelStatus.TRAINING).first(),
        timeout=360,
        what="the training to finish",
    )
    assert record.status == TasteModelStatus.ACTIVE, record.error
    assert default_storage.exists(record.file.name)
    refresh_all_recommendations.delay(chunk_size=11, fan_out=True)  # five chunk tasks
    wait_for(
        lambda: all(len(recommended(fan)) == 18 for fan in fans),
        timeout=120,
        what="every fan's recommendations",
    )
    by_worker = {fan.key: [r.product_id for r in recommended(fan)] for fan in fans}
    recommendations_compute_all(chunk_size=1000)  # here, in one batch, from the same file
    assert {fan.key: [r.product_id for r in recommended(fan)] for fan in fans} == by_worker
    log = celery_worker.log_path.read_text(errors="replace")
    assert log.count("score_recommendations_chunk") >= 5


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"SHOW_AGAIN_INTERACTED": "sometimes"}, "stylerecs.E011"),
        ({"SHOW_AGAIN_PURCHASED": "yes"}, "stylerecs.E011"),
        ({"FIRST_PAGE_SIZE": -1}, "stylerecs.E012"),
        ({"TASTE_VALIDATION_FRACTION": 0.9}, "stylerecs.E012"),
        ({"TASTE_VALIDATION_FOLDS": 0}, "stylerecs.E012"),
        ({"TASTE_VALIDATION_SHOPPERS": 0}, "stylerecs.E012"),
        ({"TASTE_VALIDATION_SHOPPERS": 2.5}, "stylerecs.E012"),
        ({"TASTE_TUNING": {"blend": {"user_half_life_days": [0.0]}}}, "stylerecs.E013"),
        ({"TASTE_TUNING": {"blend": {"popularity_days": [-7]}}}, "stylerecs.E013"),
        ({"TASTE_TUNING": {"fit": {"factorz": [8]}}}, "stylerecs.E013"),
        ({"TASTE_TUNING": {"fit": {"factors": [0]}}}, "stylerecs.E013"),
        ({"TASTE_TUNING": {"blend": {"visual_weight": []}}}, "stylerecs.E013"),
        ({"TASTE_TUNING": {"blend": {"looks_kind_power": [0.0, 80.0]}}}, "stylerecs.E013"),
    ],
)
def test_bad_taste_settings_give_coded_errors(settings, override, expected):
    from django.core import checks

    settings.STYLERECS = {**settings.STYLERECS, **override}
    found = {m.id for m in checks.run_checks() if m.id.startswith("stylerecs")}
    assert found == {expected}
