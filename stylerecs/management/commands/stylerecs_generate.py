"""Generate stylized variants from the command line (the same service as the admin)."""

import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from stylerecs.conf import get_product_model
from stylerecs.models import GenerationBatch, Style
from stylerecs.services.variants import variants_request


def _split(values: list[str]) -> list[str]:
    return [item for value in values for item in value.split(",") if item]


class Command(BaseCommand):
    help = (
        "Request stylized variants of products in styles. Workers do the work; --wait "
        "follows the batch with a progress bar."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--products",
            nargs="+",
            required=True,
            metavar="ID",
            help="Product primary keys (space or comma separated), or 'all'.",
        )
        parser.add_argument(
            "--styles",
            nargs="+",
            required=True,
            metavar="SLUG",
            help="Style slugs or ids (space or comma separated), or 'all' active styles.",
        )
        parser.add_argument("--wait", action="store_true", help="Wait until the batch finishes.")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds --wait waits.")
        parser.add_argument("--user", help="Username to record as the requester.")

    def handle(self, *args, products, styles, wait, timeout, user, **options):
        product_ids = self._products(_split(products))
        style_ids = self._styles(_split(styles))
        requested_by = None
        if user:
            try:
                requested_by = get_user_model()._default_manager.get_by_natural_key(user)
            except get_user_model().DoesNotExist as exc:
                raise CommandError(f"No user {user!r}.") from exc
        batch = variants_request(
            product_ids=product_ids, style_ids=style_ids, requested_by=requested_by, source="cli"
        )
        self.stdout.write(
            f"Batch #{batch.pk}: {batch.total} variant(s) for {len(product_ids)} product(s) x "
            f"{len(style_ids)} style(s); {batch.done} already done."
        )
        if wait:
            batch = self._wait(batch, timeout=timeout, show=options["verbosity"] >= 1)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Batch #{batch.pk} finished: {batch.ready} ready, {batch.failed} failed."
                )
            )
            for variant in batch.variants.filter(status="failed").select_related("style")[:20]:
                self.stderr.write(
                    f"  failed: product {variant.product_id} in {variant.style}: {variant.error}"
                )

    def _products(self, values: list[str]) -> list:
        manager = get_product_model()._default_manager
        if values == ["all"]:
            return list(manager.values_list("pk", flat=True))
        found = list(manager.filter(pk__in=values).values_list("pk", flat=True))
        missing = set(values) - {str(pk) for pk in found}
        if missing:
            raise CommandError(f"Unknown product id(s): {', '.join(sorted(missing))}")
        return found

    def _styles(self, values: list[str]) -> list[int]:
        active = Style.objects.filter(is_active=True)
        if values == ["all"]:
            ids = list(active.values_list("pk", flat=True))
            if not ids:
                raise CommandError("There are no active styles.")
            return ids
        ids = []
        for value in values:
            lookup = {"pk": int(value)} if value.isdigit() else {"slug": value}
            style = active.filter(**lookup).first()
            if style is None:
                raise CommandError(f"No active style {value!r}.")
            ids.append(style.pk)
        return ids

    def _wait(self, batch: GenerationBatch, *, timeout: float, show: bool) -> GenerationBatch:
        deadline = time.monotonic() + timeout
        with tqdm(
            total=batch.total, desc=f"batch #{batch.pk}", unit="variant", disable=not show
        ) as bar:
            while True:
                batch.refresh_from_db()
                if batch.done != bar.n:
                    bar.set_postfix(ready=batch.ready, failed=batch.failed, refresh=False)
                    bar.update(batch.done - bar.n)
                if batch.is_finished:
                    return batch
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"Batch #{batch.pk} not finished after {timeout:.0f}s "
                        f"({batch.done}/{batch.total}); is a worker running on the gpu queue?"
                    )
                time.sleep(0.5)
