"""Print an experiment's report: ``manage.py stylerecs_experiment <slug> [--json]``.

Without a slug, lists the experiments. ``--guard`` runs the guard rail first (what the
``experiments_guard`` task does for celery beat).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ...models import Experiment
from ...services.experiment_analysis import METRICS, experiment_report, experiments_guard

PERCENT = {"ctr", "cart_rate", "conversion"}


def _value(metric: str, value) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.2f}%" if metric in PERCENT else f"{value:.2f}"


class Command(BaseCommand):
    help = "Print an experiment's per-arm report (or list the experiments)."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?", help="The experiment's slug.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--guard", action="store_true", help="Run the guard rail before reporting."
        )

    def handle(self, *args, slug=None, json=False, guard=False, **options):
        if guard:
            stopped = experiments_guard()
            self.stdout.write(f"Guard rail stopped: {', '.join(stopped) or 'nothing'}")
        if not slug:
            for experiment in Experiment.objects.order_by("-created_at"):
                self.stdout.write(f"{experiment.slug:<30} {experiment.status:<8} {experiment}")
            return
        experiment = Experiment.objects.filter(slug=slug).first()
        if experiment is None:
            raise CommandError(f"No experiment with slug {slug!r}.")
        report = experiment_report(experiment=experiment)
        if json:
            self.stdout.write(_json(report))
            return
        self._print(report)

    def _print(self, report: dict) -> None:
        out = self.stdout.write
        plan = report["plan"]
        out(f"{report['experiment']['name']} ({report['experiment']['status']})")
        out(report["method"])
        if plan["required_per_arm"] is not None:
            out(
                f"Plan: {plan['required_per_arm']} shoppers per arm; smallest arm "
                f"{plan['smallest_arm']} ({plan['progress']:.0%})."
            )
        for warning in report["warnings"]:
            out(self.style.WARNING(f"! {warning}"))
        header = f"{'arm':<20}{'shoppers':>9}{'impr.':>8}{'clicks':>7}" + "".join(
            f"{name:>22}" for name in METRICS
        )
        out(header)
        for arm in report["arms"]:
            name = arm["name"] + (" (control)" if arm["is_control"] else "")
            if arm["stopped_at"]:
                name += " [stopped]"
            out(
                f"{name[:19]:<20}{arm['shoppers']:>9}{arm['impressions']:>8}{arm['clicks']:>7}"
                + "".join(f"{_value(m, arm[m]):>22}" for m in METRICS)
            )
        out(f"Difference from the control ({report['confidence']}% confidence interval):")
        for comparison in report["comparisons"]:
            for metric, label in METRICS.items():
                result = comparison["metrics"][metric]
                if result is None:
                    text = "not enough data yet"
                else:
                    mark = " *" if result["significant"] else ""
                    text = (
                        f"{result['difference']:+.4f} [{result['low']:+.4f}, "
                        f"{result['high']:+.4f}] p={result['p_value']:.3f}{mark}"
                    )
                out(f"  {comparison['name'][:18]:<19}{label:<22}{text}")
        srm = report["srm"]
        state = "MISMATCH" if srm["mismatch"] else "ok"
        out(f"Sample ratio check: chi2={srm['chi2']:.2f} p={srm['p_value']:.4f} {state}")


def _json(report: dict) -> str:
    return json.dumps(report, indent=2, default=str)
