"""A worker process killed mid-task loses nothing: the task is redelivered and finishes.

This is the failover test Celery runs on itself (kill a worker mid-task, the result
still arrives), against our settings: acks_late + reject_on_worker_lost.
"""

from __future__ import annotations

import os
import signal

import pytest

from stylerecs.models import StylizedVariant, VariantStatus
from stylerecs.services.variants import variants_request

from .conftest import sample_jpeg, wait_for

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_killed_worker_child_task_is_redelivered_and_completes(
    celery_worker, make_product, make_style
):
    products = [
        make_product(sample_jpeg(name, side=1024))
        for name in (
            "coffee",
            "chelsea",
            "astronaut",
            "rocket",
            "coffee",
            "chelsea",
            "astronaut",
            "rocket",
        )
    ]
    style = make_style("ember", source="chelsea")
    batch = variants_request(product_ids=[p.pk for p in products], style_ids=[style.pk])

    def processing():
        return StylizedVariant.objects.filter(status=VariantStatus.PROCESSING).exists()

    wait_for(processing, interval=0.02, what="the task to start")
    children = celery_worker.child_pids()
    assert children, "the prefork worker has a child process"
    for pid in children:
        os.kill(pid, signal.SIGKILL)

    def done():
        batch.refresh_from_db()
        return batch.is_finished

    wait_for(done, timeout=120, what="the redelivered task to finish")
    statuses = list(StylizedVariant.objects.values_list("status", flat=True))
    assert statuses == [VariantStatus.READY] * len(products)
    # The variants were claimed by the killed run and claimed again by the redelivery.
    assert max(StylizedVariant.objects.values_list("attempts", flat=True)) == 2
