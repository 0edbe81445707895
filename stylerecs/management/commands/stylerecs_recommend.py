"""Train the taste model and score every shopper from the command line.

The same services as the Celery tasks (``train_taste_model``,
``refresh_all_recommendations``): ``--train`` fits and tunes a model (it goes into
service only if it beats the one there), ``--all`` scores everyone and stores their
recommendations. Both show progress bars.
"""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from stylerecs.services.recommendations import recommendations_compute_all
from stylerecs.services.taste_training import TrainingRefused, taste_model_train


class Command(BaseCommand):
    help = (
        "--train: fit and tune the hybrid taste model on a time-based validation split "
        "(kept only if it beats the model in service). --all: score every shopper and "
        "store their recommendations. Give both to train, then score."
    )

    def add_arguments(self, parser):
        parser.add_argument("--train", action="store_true", help="Fit and tune a model.")
        parser.add_argument("--all", action="store_true", help="Score every shopper.")
        parser.add_argument(
            "--chunk-size", type=int, default=None, help="Shoppers per batch (--all)."
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="With --all: send each chunk to the workers as its own task.",
        )

    def handle(self, *args, train, all, chunk_size, enqueue, **options):
        if not (train or all):
            raise CommandError("Say what to do: --train, --all, or both.")
        if chunk_size is not None and chunk_size <= 0:
            raise CommandError("--chunk-size must be a positive number.")
        show = options["verbosity"] >= 1
        if train:
            self._train(show)
        if all:
            self._score(chunk_size=chunk_size, enqueue=enqueue, show=show)

    def _train(self, show: bool) -> None:
        with tqdm(total=1, desc="tuning", unit="fit", disable=not show) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            try:
                record = taste_model_train(progress=progress)
            except TrainingRefused as exc:
                raise CommandError(f"Not trained: {exc}") from exc
        metrics = record.metrics
        line = (
            f"{record}: recall@10 {metrics.get('recall@10')}, NDCG@10 {metrics.get('ndcg@10')} "
            f"on {record.events} events ({record.fit_seconds:.1f} s)"
        )
        for name, values in record.baselines.items():
            line += f"\n  {name}: recall@10 {values.get('recall@10')}"
        self.stdout.write(line)

    def _score(self, *, chunk_size, enqueue: bool, show: bool) -> None:
        desc = "enqueueing" if enqueue else "scoring"
        with tqdm(total=0, desc=desc, unit="shopper", disable=not show) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            count = recommendations_compute_all(
                chunk_size=chunk_size, fan_out=enqueue, progress=progress
            )
        verb = "Enqueued the scoring of" if enqueue else "Scored"
        self.stdout.write(f"{verb} {count} shopper(s).")
