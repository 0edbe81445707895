"""Benchmark the hybrid taste model at scale: fit on 1M interactions, score 100k x 20k.

    python bench/recs_scale.py [--shoppers 100000] [--products 20000]
                               [--events 1000000] [--loop-sample 300] [--threads 2]
                               [--chunk 1024] [--quick]

A synthetic shop (random 86-d embeddings, the size of classicstats-v1; Zipf-popular
products; ten events per shopper on average, kinds mixed as on the storefront). Each
mode runs in its own process, its resident memory sampled every 5 ms:

- fit: the ALS fit (implicit, the given threads), the item-item neighbours (BM25, 100
  per product), the look-alikes (100 per product), the looks map and the visual axes
  on all the events, as
  ``stylerecs_recommend --train`` fits the final model;
- batched: every shopper scored in chunks through ``stylerecs.engine.taste_rank.recommend``
  (fold-in, blend with the item-item and looks-alike parts on, exclusions, first-page
  policy, reasons),
  top 50 kept in an array as the service would store them (the database writes are not
  timed here);
- loop: the same call one shopper at a time (timed on a sample, extrapolated).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.recs_common import PeakSampler, current_rss_mib, table  # noqa: E402

KIND_WEIGHTS = np.array([0.5, 2.0, 2.5, 4.0, -2.0], dtype=np.float32)  # view..dislike
KIND_SHARE = np.array([0.6, 0.15, 0.12, 0.1, 0.03])


def synthetic(shoppers: int, products: int, events: int, seed: int = 0):
    from stylerecs.engine.taste_tuning import EventLog

    rng = np.random.default_rng(seed)
    user = rng.integers(0, shoppers, events)
    item = (rng.zipf(1.2, events) - 1) % products
    kind = rng.choice(len(KIND_WEIGHTS), events, p=KIND_SHARE)
    log = EventLog(
        n_users=shoppers,
        n_items=products,
        user=user.astype(np.int64),
        item=item.astype(np.int64),
        weight=KIND_WEIGHTS[kind],
        day=rng.uniform(0, 90, events),
        bought=kind == 3,
    )
    vectors = rng.standard_normal((products, 86)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return log, vectors


def child(args) -> dict:
    import torch

    from stylerecs.engine.allocator import keep_freed_memory
    from stylerecs.engine.taste import TasteParams
    from stylerecs.engine.taste_log import Policy, _ByUser, shopper_events
    from stylerecs.engine.taste_side import item_side
    from stylerecs.engine.taste_tuning import fit_log

    keep_freed_memory()  # as the workers do (KEEP_FREED_MEMORY): no page faults per chunk
    torch.set_num_threads(args.threads)
    log, vectors = synthetic(args.shoppers, args.products, args.events)
    vectors = torch.from_numpy(vectors)
    keys = [str(i) for i in range(args.products)]
    # With the item-item and looks-alike parts on (what tuning picks on most shops and on
    # shops where looks matter), so their cost is counted.
    params = TasteParams(factors=32, knn_weight=0.5, looks_weight=1.0)
    if args.child != "fit":
        model = fit_log(
            log, now=90.0, params=params, item_keys=keys, item_vectors=vectors, threads=2
        )
        grouped = _ByUser(log)
    before = current_rss_mib()
    with PeakSampler() as memory:
        t0 = time.perf_counter()
        if args.child == "fit":
            fit_log(
                log,
                now=90.0,
                params=params,
                item_keys=keys,
                item_vectors=vectors,
                threads=args.threads,
            )
            count = len(log)
        else:
            from stylerecs.engine.taste_rank import recommend

            side = item_side(
                model,
                item_keys=keys,
                item_vectors=vectors,
                popularity=torch.rand(args.products),
            )
            available = torch.rand(args.products) > 0.03
            count = args.shoppers if args.child == "batched" else args.loop_sample
            chunk = args.chunk if args.child == "batched" else 1
            top = np.zeros((count, 50), dtype=np.int64)
            for start in range(0, count, chunk):
                users = np.arange(start, min(start + chunk, count))
                events = shopper_events(grouped, users, now=90.0, policy=Policy())
                result = recommend(side, events, params=params, available=available, k=50, page=10)
                top[start : start + len(users)] = result.items.numpy()
        seconds = time.perf_counter() - t0
    return {
        "mode": args.child,
        "count": count,
        "seconds": seconds,
        "rss_before_mib": before,
        "rss_peak_mib": memory.peak,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shoppers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.shoppers, args.products, args.events, args.loop_sample = 2000, 500, 20_000, 20
    if args.child:
        print(json.dumps(child(args)))
        return
    results = {}
    for mode in ("fit", "batched", "loop"):
        cmd = [
            sys.executable, __file__, "--child", mode, "--shoppers", str(args.shoppers),
            "--products", str(args.products), "--events", str(args.events),
            "--loop-sample", str(args.loop_sample), "--threads", str(args.threads),
            "--chunk", str(args.chunk),
        ]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    fit, batched, loop = results["fit"], results["batched"], results["loop"]
    loop_total = loop["seconds"] / loop["count"] * args.shoppers
    rows = [
        [
            f"fit ALS + looks map, {args.events:,} events",
            f"{fit['seconds']:.1f}",
            "",
            f"{fit['rss_peak_mib']:.0f}",
            f"{fit['rss_peak_mib'] - fit['rss_before_mib']:.0f}",
        ],
        [
            f"score top 50, batched ({args.chunk}/chunk), all {args.shoppers:,}",
            f"{batched['seconds']:.1f}",
            f"{1000 * batched['seconds'] / batched['count']:.3f}",
            f"{batched['rss_peak_mib']:.0f}",
            f"{batched['rss_peak_mib'] - batched['rss_before_mib']:.0f}",
        ],
        [
            f"score top 50, one shopper at a time ({loop['count']} timed)",
            f"{loop_total:.0f} (extrapolated)",
            f"{1000 * loop['seconds'] / loop['count']:.3f}",
            f"{loop['rss_peak_mib']:.0f}",
            f"{loop['rss_peak_mib'] - loop['rss_before_mib']:.0f}",
        ],
    ]
    table(
        f"Hybrid taste model at scale: {args.shoppers:,} shoppers x {args.products:,} "
        f"products, {args.threads} threads; memory in MiB",
        ["step", "seconds", "ms/shopper", "RSS peak", "peak - before"],
        rows,
    )
    print(f"  batched is {loop_total / batched['seconds']:.1f}x the per-shopper loop")


if __name__ == "__main__":
    main()
