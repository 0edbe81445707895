"""A server-rendered SVG of an experiment report: each arm's difference from the control,
per metric, with its confidence interval (a forest plot). No JavaScript, no CDN."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ..services.experiment_analysis import METRICS

WIDTH, LABEL, ROW, PAD = 680, 260, 30, 24
PERCENT = {"ctr", "cart_rate", "conversion"}


def _fmt(metric: str, value: float) -> str:
    return f"{value * 100:+.2f} pt" if metric in PERCENT else f"{value:+.2f}"


def report_svg(report: dict) -> SafeString:
    """The forest plot of ``experiment_report``'s comparisons (an empty string if none)."""
    rows = [
        (comparison["name"], metric, comparison["metrics"].get(metric))
        for metric in METRICS
        for comparison in report["comparisons"]
    ]
    if not rows:
        return mark_safe("")
    height = PAD * 2 + ROW * len(rows)
    plot_left, plot_right = LABEL + 10, WIDTH - 90
    middle = (plot_left + plot_right) / 2
    half = (plot_right - plot_left) / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="stylerecs-forest" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="Difference from the control with {report["confidence"]}% intervals">',
        f'<line x1="{middle}" y1="{PAD / 2}" x2="{middle}" y2="{height - PAD / 2}" '
        'stroke="#888" stroke-dasharray="4 3"/>',
        f'<text x="{middle}" y="{PAD / 2 + 2}" font-size="11" text-anchor="middle" '
        'fill="#555">no difference</text>',
    ]
    for index, (name, metric, result) in enumerate(rows):
        y = PAD + ROW * index + ROW / 2
        label = f"{METRICS[metric]} — {name}"
        parts.append(
            f'<text x="{LABEL}" y="{y + 4}" font-size="12" text-anchor="end">{escape(label)}</text>'
        )
        if result is None:
            parts.append(
                f'<text x="{middle}" y="{y + 4}" font-size="11" text-anchor="middle" '
                'fill="#888">not enough data</text>'
            )
            continue
        # Each metric on its own scale: the widest bound of its row sits at the edge.
        scale = max(abs(result["low"]), abs(result["high"]), 1e-12)
        x_low = middle + half * result["low"] / scale
        x_high = middle + half * result["high"] / scale
        x_dot = middle + half * result["difference"] / scale
        colour = (
            "#15803d"
            if result["significant"] and result["difference"] > 0
            else "#b91c1c"
            if result["significant"]
            else "#334155"
        )
        parts += [
            f'<line x1="{x_low:.1f}" y1="{y}" x2="{x_high:.1f}" y2="{y}" stroke="{colour}" '
            'stroke-width="3"/>',
            f'<circle cx="{x_dot:.1f}" cy="{y}" r="5" fill="{colour}"/>',
            f'<text x="{plot_right + 8}" y="{y + 4}" font-size="11" fill="{colour}">'
            f"{escape(_fmt(metric, result['difference']))}</text>",
        ]
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every label above is escaped
