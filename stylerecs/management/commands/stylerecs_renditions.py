"""Make the responsive renditions that are missing (backfill); safe to run again."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from stylerecs.conf import get_product_model
from stylerecs.services.renditions import (
    RENDERED_STATUSES,
    RenditionReport,
    renditions_for_products,
    renditions_for_variants,
)

CHUNK = 50


class Command(BaseCommand):
    help = (
        "Make the missing renditions (widths x formats of STYLERECS['RENDITION_WIDTHS'] "
        "and ['RENDITION_FORMATS']) of ready and approved variants and of product photos. "
        "What is already made is left alone, so it can run again at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            choices=["variants", "products"],
            help="Only variants, or only the products' photos (default: both).",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help=f"Hand the work to the Celery workers in chunks of {CHUNK} instead.",
        )

    def handle(self, *args, only, enqueue, **options):
        from stylerecs.models import StylizedVariant

        jobs = []
        if only in (None, "variants"):
            ids = list(
                StylizedVariant.objects.filter(status__in=RENDERED_STATUSES)
                .exclude(image="")
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            jobs += [("variants", ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]
        if only in (None, "products"):
            products = get_product_model()._default_manager.order_by("pk")
            ids = list(products.values_list("pk", flat=True))
            jobs += [("products", ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]
        if enqueue:
            from stylerecs.tasks import make_renditions

            for kind, ids in jobs:
                if kind == "variants":
                    make_renditions.delay(variant_ids=ids)
                else:
                    make_renditions.delay(product_ids=[str(pk) for pk in ids])
            self.stdout.write(f"Enqueued {len(jobs)} task(s).")
            return
        report = RenditionReport()
        total = sum(len(ids) for _, ids in jobs)
        with tqdm(
            total=total, unit="image", disable=options["verbosity"] < 1, file=self.stderr
        ) as bar:
            for kind, ids in jobs:
                if kind == "variants":
                    # Products are their own jobs here, so each photo is read once.
                    part = renditions_for_variants(variant_ids=ids, with_products=False)
                else:
                    part = renditions_for_products(product_ids=ids)
                report.add(part)
                bar.update(len(ids))
                bar.set_postfix(made=report.created, failed=report.failed)
        for error in report.errors:
            self.stderr.write(self.style.WARNING(error))
        self.stdout.write(
            f"Renditions: {report.created} made, {report.existing} already there, "
            f"{report.failed} failed."
        )
