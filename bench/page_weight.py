"""Page weight: responsive renditions against the single-JPEG markup, in Chromium.

    python bench/page_weight.py [--avif-speed 6] [--from-json FILE]

Runs the browser test tests/e2e/test_page_weight.py (real Chromium against a live
server, the test environment's PostgreSQL; see the Makefile's TEST_ENV) with the AVIF
encoder at the default speed, then prints what it measured from the browser's resource
timing and performance entries: image bytes transferred on a cold cache, the largest
contentful paint and the layout shift caused by images, for a product page and the
For-you page at a phone (390 px, 1x and 3x) and a desktop (1280 px) viewport, each with
renditions and with ``RENDITIONS_ENABLED`` off (today's single-JPEG markup). LCP is one
load on whatever machine runs it: read it as a rough figure, the bytes as exact.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "test-artifacts" / "e2e" / "page_weight.json"
BEFORE = "single JPEG (before)"


def table(rows: list[dict]) -> str:
    by_key = {(r["page"], r["viewport"], r["markup"]): r for r in rows}
    lines = [
        f"{'page':<13}{'viewport':<18}{'KiB before':>11}{'KiB after':>10}{'after/before':>13}"
        f"{'LCP ms before':>15}{'after':>7}{'CLS img before':>16}{'after':>7}  formats",
        "-" * 118,
    ]
    for page in dict.fromkeys(r["page"] for r in rows):
        for viewport in dict.fromkeys(r["viewport"] for r in rows):
            old = by_key[(page, viewport, BEFORE)]
            new = by_key[(page, viewport, "renditions")]
            lines.append(
                f"{page:<13}{viewport:<18}{old['image_bytes'] / 1024:>11.1f}"
                f"{new['image_bytes'] / 1024:>10.1f}"
                f"{new['image_bytes'] / old['image_bytes']:>13.2f}"
                f"{old['lcp_ms'] or 0:>15}{new['lcp_ms'] or 0:>7}"
                f"{old['cls_images']:>16.3f}{new['cls_images']:>7.3f}  {','.join(new['formats'])}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--avif-speed", type=int, default=6, help="libavif speed, 0..10")
    parser.add_argument("--from-json", type=Path, help="Print a saved result; run nothing.")
    args = parser.parse_args()
    path = args.from_json
    if path is None:
        env = {
            **os.environ,
            "PAGE_WEIGHT_AVIF_SPEED": str(args.avif_speed),
            "PAGE_WEIGHT_VIEWPORTS": "all",
        }
        command = [sys.executable, "-m", "pytest", "-q", "tests/e2e/test_page_weight.py"]
        result = subprocess.run(command, cwd=ROOT, env=env)
        if result.returncode != 0:
            return result.returncode
        path = RESULTS
    rows = json.loads(path.read_text())
    print(f"Image bytes per page load (cold cache), AVIF speed {args.avif_speed}:\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
