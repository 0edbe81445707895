"""Neural weights: `manage.py stylerecs_weights` check/install, and an adain style
generating through a real worker once its weights are installed
(stylerecs/weights.py, stylerecs/management/commands/stylerecs_weights.py)."""

from __future__ import annotations

import io
import shutil

import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError

from stylerecs.models import StylizedVariant, VariantStatus
from stylerecs.services.variants import variants_request
from stylerecs.weights import method_available, weights_dir
from tests.weights_factory import write_random_weights

from .conftest import wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    return write_random_weights(tmp_path_factory.mktemp("downloaded"))


@pytest.fixture
def empty_weights_dir():
    """The worker shares this folder (same STYLERECS_VAR_DIR): start and end empty."""
    shutil.rmtree(weights_dir(), ignore_errors=True)
    yield weights_dir()
    shutil.rmtree(weights_dir(), ignore_errors=True)


def run(*args) -> str:
    out = io.StringIO()
    call_command("stylerecs_weights", *args, stdout=out)
    return out.getvalue()


def test_check_reports_missing_files_and_classic_still_available(empty_weights_dir):
    report = run("check")
    assert "adain_encoder  missing" in report
    assert "method classic" in report and "available" in report
    assert "method adain" in report and "unavailable" in report
    assert not method_available("adain")


def test_install_refuses_a_file_with_a_mis_shaped_key(empty_weights_dir, tmp_path, random_weights):
    """A decoder whose last conv has the wrong shape: refused, naming the key; nothing copied."""
    state = torch.load(random_weights / "decoder.pth", weights_only=True)
    state["28.weight"] = torch.zeros(3, 32, 3, 3)
    torch.save(state, tmp_path / "decoder.pth")
    with pytest.raises(CommandError, match="28.weight"):
        run("install", "--from", str(tmp_path))
    assert not (empty_weights_dir / "decoder.pth").exists()


def test_install_validates_copies_and_adain_generates_through_the_worker(
    empty_weights_dir, random_weights, celery_worker, make_product, make_style
):
    report = run("install", "--from", str(random_weights))
    assert "adain_decoder  installed" in report
    assert "method adain    available" in report
    assert method_available("adain")
    assert "already installed" in run("install", "--from", str(random_weights))

    product = make_product()
    style = make_style("neural", method="adain")
    batch = variants_request(product_ids=[product.pk], style_ids=[style.pk])

    def finished():
        batch.refresh_from_db()
        return batch.is_finished

    wait_for(finished, timeout=180, what="the adain batch")
    variant = StylizedVariant.objects.get()
    assert variant.status == VariantStatus.READY, variant.error
    assert variant.params["method"] == "adain" and variant.width > 0
