"""System checks give coded errors for a misconfigured host (stylerecs/*checks.py)."""

import pytest
from django.core import checks
from django.test import override_settings


def ids(**overrides) -> set[str]:
    with override_settings(**overrides):
        return {message.id for message in checks.run_checks() if message.id.startswith("stylerecs")}


def test_demo_settings_pass_the_checks():
    assert ids() == set()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"STYLERECS_PRODUCT_MODEL": None}, "stylerecs.E001"),
        ({"STYLERECS_PRODUCT_MODEL": "shop.Nope"}, "stylerecs.E002"),
        ({"STYLERECS_PRODUCT_MODEL": "not-a-label"}, "stylerecs.E002"),
        ({"STYLERECS": {"PRODUCT_ADAPTER": "shop.adapters.Missing"}}, "stylerecs.E003"),
        ({"STYLERECS": {"PRODUCT_ADAPTER": "shop.models.Product"}}, "stylerecs.E004"),
        (
            {"STYLERECS": {"BATCH_SIZE": 0, "PRODUCT_ADAPTER": "shop.adapters.ShopProductAdapter"}},
            "stylerecs.E006",
        ),
        (
            {"STYLERECS": {"TYPO": 1, "PRODUCT_ADAPTER": "shop.adapters.ShopProductAdapter"}},
            "stylerecs.W001",
        ),
        ({"STYLERECS": {"EVENT_WEIGHTS": {"stare": 1.0}}}, "stylerecs.E007"),
        ({"STYLERECS": {"EVENT_WEIGHTS": {"like": "a lot"}}}, "stylerecs.E007"),
        ({"STYLERECS": {"HALF_LIFE_DAYS": 0}}, "stylerecs.E008"),
        ({"STYLERECS": {"DIVERSITY": 1.5}}, "stylerecs.E008"),
        ({"STYLERECS": {"RANKING_FUNCTION": "stylerecs.ranking.nope"}}, "stylerecs.E009"),
        ({"STYLERECS": {"RANKING_FUNCTION": "stylerecs.conf.DEFAULTS"}}, "stylerecs.E009"),
        ({"STYLERECS": {"DEBOUNCE_CACHE": "elsewhere"}}, "stylerecs.E010"),
        ({"STYLERECS": {"RECOMMENDATIONS_PER_SHOPPER": -5}}, "stylerecs.E006"),
    ],
)
def test_misconfiguration_gives_a_coded_error(overrides, expected):
    assert expected in ids(**overrides)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"FOR_YOU_STYLE_MIN_AFFINITY": 2}, "stylerecs.E030"),
        ({"FOR_YOU_STYLE_MIN_AFFINITY": "high"}, "stylerecs.E030"),
        ({"FOR_YOU_REFRESH_SECONDS": 0}, "stylerecs.E031"),
        ({"FOR_YOU_REFRESH_MAX": -1}, "stylerecs.E031"),
        ({"FOR_YOU_REFRESH_MAX": 2.5}, "stylerecs.E031"),
    ],
)
def test_for_you_settings_out_of_range_give_a_coded_error(overrides, expected):
    from django.conf import settings

    assert expected in ids(STYLERECS={**settings.STYLERECS, **overrides})
    assert expected not in ids()
