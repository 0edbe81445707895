"""Benchmark the recommendations: ranking quality, and scoring at scale.

    python bench/recs.py [--part quality|scale|all] [--shoppers 3000] [--seed 0]
                         [--scale-shoppers 100000] [--scale-products 20000]
                         [--loop-sample 300] [--threads 2] [--scale-threads 1,2]

Quality: a catalogue of real stylized images (crops of scikit-image photos, each
restyled by the engine's classic stylizer in the 7 demo styles, embedded by the engine's
weight-free embeddings), simulated shoppers with planted style tastes and noisy events
(views, likes, carts, purchases, dislikes; some events random), and 12% of the products
"new": nobody touched them before the split. Each shopper's last quarter of events is
held out; a held-out like, cart or purchase of a product the shopper had not touched
is a hit to find. stylerecs (the engine's scoring as the workers run it), a popularity
baseline and implicit-feedback ALS (the ``implicit`` package) rank the same split; all
three leave out what the shopper touched before the split.

Scale: 100,000 shoppers x 20,000 products, top-50 with the diversity re-ranking and
reasons, scored by the engine's batched chunked matrix products, beside a plain loop
that scores one shopper at a time with the same code (timed on a sample and
extrapolated), with 1 and with 2 torch threads. Each mode runs in its own process;
its resident memory is sampled every 5 ms while it scores ("peak - before" is what the
scoring itself needs on top of the loaded data and libraries).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# The demo settings' defaults (stylerecs/conf.py), so the bench scores as the shop does.
EVENT_WEIGHTS = {"purchase": 4.0, "add_to_cart": 2.5, "like": 2.0, "view": 0.5, "dislike": -2.0}
HALF_LIFE_DAYS, POPULARITY_PRIOR, DIVERSITY, POOL_FACTOR = 30.0, 2.0, 0.2, 3
KINDS = list(EVENT_WEIGHTS)
POSITIVE = {"purchase", "add_to_cart", "like"}
PHOTOS = ("coffee", "chelsea", "astronaut", "rocket", "camera", "coins", "clock", "moon")
CROPS = ((0, 0, 1, 1), (0, 0, 0.6, 0.6), (0.4, 0.4, 1, 1), (0.2, 0.1, 0.8, 0.9), (0.1, 0.3, 0.7, 1))
K = 10


def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


# --- Quality ----------------------------------------------------------------------------


def build_catalogue(side: int = 128):
    """Stylized product images and their embeddings: (vectors, style of each, subject of
    each, style reference vectors, style names)."""
    import torch
    from PIL import Image
    from skimage import data

    from shop import demo_data
    from stylerecs.engine.embeddings import embed
    from stylerecs.engine.stylizers import get_stylizer
    from stylerecs.engine.tensors import pil_to_tensor

    bases, subjects = [], []
    for subject, name in enumerate(PHOTOS):
        photo = Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB")
        w, h = photo.size
        for left, top, right, bottom in CROPS:
            crop = photo.crop((int(left * w), int(top * h), int(right * w), int(bottom * h)))
            bases.append(pil_to_tensor(crop.resize((side, side), Image.Resampling.LANCZOS)))
            subjects.append(subject)
    batch = torch.stack(bases)
    stylizer = get_stylizer("classic", device="cpu")
    images, styles, subject_of, references = [], [], [], []
    for index, spec in enumerate(demo_data.STYLES):
        reference = Image.open(io.BytesIO(demo_data.style_reference(spec.slug))).convert("RGB")
        reference.thumbnail((256, 256))
        references.append(pil_to_tensor(reference))
        state = stylizer.prepare_style(references[-1])
        with torch.inference_mode():
            out = stylizer.stylize(
                batch, state, alpha=spec.strength, preserve_color=spec.preserve_color
            )
        images.append(out)
        styles += [index] * len(bases)
        subject_of += subjects
    vectors = embed(torch.cat(images), side=side).vectors
    style_vectors = embed([_to_pil(r) for r in references], side=side).vectors
    names = [s.name for s in demo_data.STYLES]
    return vectors, np.array(styles), np.array(subject_of), style_vectors, names


def _to_pil(tensor):
    from stylerecs.engine.tensors import tensor_to_pil

    return tensor_to_pil(tensor)


def simulate(n_shoppers: int, styles: np.ndarray, subjects: np.ndarray, rng) -> dict:
    """Shoppers with planted tastes and their events, split in time."""
    n_products, n_styles, n_subjects = len(styles), styles.max() + 1, subjects.max() + 1
    cold = rng.random(n_products) < 0.12
    appeal = rng.normal(0, 1, n_products)  # some products are simply more liked
    train, test, tastes = [], [], []
    for shopper in range(n_shoppers):
        pref = np.zeros(n_styles)
        main = rng.integers(n_styles)
        pref[main] = 1.0
        if rng.random() < 0.4:
            pref[(main + rng.integers(1, n_styles)) % n_styles] = 0.6
        subject_pref = rng.normal(0, 0.5, n_subjects)
        utility = 2.5 * pref[styles] + subject_pref[subjects] + 0.4 * appeal
        probs = np.exp(utility - utility.max())
        probs /= probs.sum()
        n = int(rng.integers(12, 41))
        noisy = rng.random(n) < 0.2
        items = np.where(
            noisy, rng.integers(n_products, size=n), rng.choice(n_products, n, p=probs)
        )
        days = np.sort(rng.uniform(0, 60, n))
        cut = int(round(n * 0.75))
        for i, (item, day) in enumerate(zip(items, days, strict=True)):
            if pref[styles[item]] > 0:
                kind = rng.choice(
                    ["view", "like", "add_to_cart", "purchase"], p=[0.45, 0.3, 0.15, 0.1]
                )
            else:
                kind = rng.choice(["view", "like", "dislike"], p=[0.75, 0.05, 0.2])
            if i < cut:
                if not cold[item]:  # new products have no history before the split
                    train.append((shopper, int(item), kind, float(day)))
            else:
                test.append((shopper, int(item), kind, float(day)))
        tastes.append(pref)
    touched: dict[int, set] = {}
    for shopper, item, _, _ in train:
        touched.setdefault(shopper, set()).add(item)
    targets: dict[int, set] = {}
    for shopper, item, kind, _ in test:
        if kind in POSITIVE and item not in touched.get(shopper, set()):
            targets.setdefault(shopper, set()).add(item)
    return {"train": train, "targets": targets, "touched": touched, "cold": cold}


def rank_stylerecs(sim: dict, vectors, style_vectors, n_shoppers: int, *, diversity: float):
    import torch

    from stylerecs.engine import scoring

    items, mean, std = scoring.standardise(vectors)
    styles = scoring.standardise(style_vectors, mean=mean, std=std)[0]
    train = sim["train"]
    rows = torch.tensor([e[0] for e in train])
    products = torch.tensor([e[1] for e in train])
    kinds = torch.tensor([EVENT_WEIGHTS[e[2]] for e in train])
    ages = torch.tensor([60.0 - e[3] for e in train])
    weights = scoring.decayed_weights(kinds, ages, half_life_days=HALF_LIFE_DAYS)
    pop = torch.zeros(items.shape[0]).index_add_(0, products, kinds.clamp_min(0))
    pop = torch.log1p(pop) / torch.log1p(pop).max()
    out = np.zeros((n_shoppers, K), dtype=np.int64)
    chunk = 1024
    for start in range(0, n_shoppers, chunk):
        stop = min(start + chunk, n_shoppers)
        mask = (rows >= start) & (rows < stop)
        taste = scoring.taste_vectors(
            item_matrix=items,
            style_matrix=styles,
            n_shoppers=stop - start,
            event_rows=rows[mask] - start,
            event_items=products[mask],
            event_weights=weights[mask],
        )
        pairs = [(s - start, i) for s in range(start, stop) for i in sim["touched"].get(s, ())]
        result = scoring.rank_batch(
            taste=taste.vectors,
            item_matrix=items,
            style_matrix=styles,
            popularity=pop,
            history=taste.mass,
            available=torch.ones(items.shape[0], dtype=torch.bool),
            exclude_rows=torch.tensor([p[0] for p in pairs], dtype=torch.long),
            exclude_items=torch.tensor([p[1] for p in pairs], dtype=torch.long),
            liked=torch.full((stop - start, 0), -1, dtype=torch.long),
            k=K,
            diversity=diversity,
            popularity_prior=POPULARITY_PRIOR,
            pool_factor=POOL_FACTOR,
        )
        out[start:stop] = result.items.numpy()
    return out


def rank_popularity(sim: dict, n_products: int, n_shoppers: int):
    scores = np.zeros(n_products)
    for _, item, kind, _ in sim["train"]:
        scores[item] += max(EVENT_WEIGHTS[kind], 0)
    order = np.argsort(-scores, kind="stable")
    out = np.zeros((n_shoppers, K), dtype=np.int64)
    for shopper in range(n_shoppers):
        touched = sim["touched"].get(shopper, set())
        out[shopper] = [i for i in order if i not in touched][:K]
    return out


def rank_als(sim: dict, n_products: int, n_shoppers: int, *, factors: int, threads: int):
    from implicit.als import AlternatingLeastSquares
    from scipy.sparse import coo_matrix

    confidence: dict[tuple[int, int], float] = {}
    for shopper, item, kind, _ in sim["train"]:
        if EVENT_WEIGHTS[kind] > 0:  # ALS takes confidences: dislikes have no place
            key = (shopper, item)
            confidence[key] = confidence.get(key, 0.0) + EVENT_WEIGHTS[kind]
    keys = list(confidence)
    matrix = coo_matrix(
        (
            np.array([confidence[k] for k in keys], dtype=np.float32) * 10.0,  # alpha
            ([k[0] for k in keys], [k[1] for k in keys]),
        ),
        shape=(n_shoppers, n_products),
    ).tocsr()
    from threadpoolctl import threadpool_limits

    # implicit's own threads do the work; a BLAS thread pool inside them only contends.
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(
            factors=factors, regularization=0.05, iterations=20, random_state=0,
            num_threads=threads,
        )  # fmt: skip
        model.fit(matrix, show_progress=False)
        ids, _ = model.recommend(
            np.arange(n_shoppers), matrix, N=K, filter_already_liked_items=True
        )
    return np.asarray(ids)


def metrics(recs: np.ndarray, sim: dict, n_products: int) -> dict:
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    recall, ndcg, cold_recall = [], [], []
    for shopper, targets in sim["targets"].items():
        picked = list(recs[shopper])
        hits = [1.0 if i in targets else 0.0 for i in picked]
        recall.append(sum(hits) / len(targets))
        ideal = discounts[: min(K, len(targets))].sum()
        ndcg.append(float(np.dot(hits, discounts)) / ideal)
        cold = {i for i in targets if sim["cold"][i]}
        if cold:
            cold_recall.append(len(cold & set(picked)) / len(cold))
    shown = {int(i) for row in recs for i in row if i >= 0}
    return {
        "recall": float(np.mean(recall)),
        "ndcg": float(np.mean(ndcg)),
        "coverage": len(shown) / n_products,
        "cold_recall": float(np.mean(cold_recall)) if cold_recall else float("nan"),
        "shoppers": len(recall),
        "cold_shoppers": len(cold_recall),
    }


def run_quality(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    vectors, styles, subjects, style_vectors, names = build_catalogue()
    built = time.perf_counter() - started
    sim = simulate(args.shoppers, styles, subjects, rng)
    n_products = len(styles)
    print(
        f"\nQuality: {n_products} products ({len(PHOTOS) * len(CROPS)} photo crops x "
        f"{len(names)} styles, classic stylizer, 128 px, classicstats-v1 embeddings; "
        f"{int(sim['cold'].sum())} new), {args.shoppers} shoppers, {len(sim['train'])} events "
        f"before the split; {sum(len(t) for t in sim['targets'].values())} held-out targets. "
        f"Catalogue built in {built:.0f} s."
    )
    rows = []
    for label, rank in (
        (
            f"stylerecs (MMR {args.diversity})",
            lambda: rank_stylerecs(
                sim, vectors, style_vectors, args.shoppers, diversity=args.diversity
            ),
        ),
        (
            "stylerecs, no MMR",
            lambda: rank_stylerecs(sim, vectors, style_vectors, args.shoppers, diversity=0.0),
        ),
        ("popularity", lambda: rank_popularity(sim, n_products, args.shoppers)),
        (
            "ALS (implicit, 32 f)",
            lambda: rank_als(sim, n_products, args.shoppers, factors=32, threads=args.threads),
        ),
    ):
        t0 = time.perf_counter()
        recs = rank()
        seconds = time.perf_counter() - t0
        m = metrics(recs, sim, n_products)
        rows.append(
            [label, m["recall"], m["ndcg"], m["coverage"], m["cold_recall"], f"{seconds:.1f}"]
        )
    table(
        f"Ranking quality @{K}: mean over the {m['shoppers']} shoppers with held-out targets "
        f"(new products: over the {m['cold_shoppers']} shoppers with a new one held out)",
        ["method", f"recall@{K}", f"NDCG@{K}", "coverage", f"new recall@{K}", "seconds"],
        rows,
    )


# --- Scale ------------------------------------------------------------------------------


def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakSampler:
    """The largest resident set seen while the block runs (sampled every 5 ms)."""

    def __enter__(self):
        import threading

        self.peak, self._stop = current_rss_mib(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, current_rss_mib())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, current_rss_mib())


def scale_child(
    mode: str, shoppers: int, products: int, sample: int, dim: int, threads: int
) -> dict:
    """One scoring mode in this process: time and memory, as JSON."""
    import torch

    from stylerecs.engine import scoring

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    items = scoring.standardise(torch.randn(products, dim, generator=gen))[0]
    styles = scoring.standardise(torch.randn(7, dim, generator=gen))[0]
    popularity = torch.rand(products, generator=gen)
    available = torch.rand(products, generator=gen) > 0.03
    per = 20  # events per shopper
    event_items = torch.randint(products, (shoppers, per), generator=gen)
    weights = torch.tensor(list(EVENT_WEIGHTS.values()))
    kinds = weights[torch.randint(len(weights), (shoppers, per), generator=gen)]
    ages = torch.rand(shoppers, per, generator=gen) * 90
    bought = torch.randint(products, (shoppers, 2), generator=gen)
    chunk = 1024 if mode == "batched" else 1
    count = shoppers if mode == "batched" else min(sample, shoppers)
    before = current_rss_mib()
    checksum = 0
    with PeakSampler() as memory:
        t0 = time.perf_counter()
        for start in range(0, count, chunk):
            stop = min(start + chunk, count)
            n = stop - start
            decayed = scoring.decayed_weights(
                kinds[start:stop].reshape(-1),
                ages[start:stop].reshape(-1),
                half_life_days=HALF_LIFE_DAYS,
            )
            taste = scoring.taste_vectors(
                item_matrix=items,
                style_matrix=styles,
                n_shoppers=n,
                event_rows=torch.arange(n).repeat_interleave(per),
                event_items=event_items[start:stop].reshape(-1),
                event_weights=decayed,
            )
            result = scoring.rank_batch(
                taste=taste.vectors,
                item_matrix=items,
                style_matrix=styles,
                popularity=popularity,
                history=taste.mass,
                available=available,
                exclude_rows=torch.arange(n).repeat_interleave(2),
                exclude_items=bought[start:stop].reshape(-1),
                liked=event_items[start:stop, :5],
                k=50,
                diversity=DIVERSITY,
                popularity_prior=POPULARITY_PRIOR,
                pool_factor=POOL_FACTOR,
            )
            checksum += int(result.items[:, 0].sum())
        seconds = time.perf_counter() - t0
    return {
        "mode": mode,
        "threads": threads,
        "scored": count,
        "seconds": seconds,
        "per_shopper_ms": 1000 * seconds / count,
        "rss_before_mib": before,
        "rss_peak_mib": memory.peak,
        "checksum": checksum,
    }


def run_scale(args) -> None:
    n = args.scale_shoppers
    rows, ratios = [], []
    for threads in args.scale_threads:
        results = {}
        for mode in ("batched", "loop"):
            cmd = [
                sys.executable, __file__, "--scale-child", mode,
                "--scale-shoppers", str(n), "--scale-products", str(args.scale_products),
                "--loop-sample", str(args.loop_sample), "--dim", str(args.dim),
                "--threads", str(threads),
            ]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO_ROOT)
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
        batched, loop = results["batched"], results["loop"]
        loop_total = loop["per_shopper_ms"] * n / 1000
        for label, r, total in (
            (f"batched, 1024/chunk, {threads} thr", batched, f"{batched['seconds']:.0f}"),
            (f"per-shopper loop, {threads} thr", loop, f"{loop_total:.0f} (extrapolated)"),
        ):
            rows.append(
                [
                    label,
                    f"{r['scored']:,}",
                    f"{r['seconds']:.1f}",
                    f"{r['per_shopper_ms']:.2f}",
                    total,
                    f"{r['rss_before_mib']:.0f}",
                    f"{r['rss_peak_mib']:.0f}",
                    f"{r['rss_peak_mib'] - r['rss_before_mib']:.0f}",
                ]
            )
        ratios.append((threads, loop_total / batched["seconds"]))
    table(
        f"Scoring scale: {n:,} shoppers x {args.scale_products:,} products, top-50 (MMR over "
        f"150 candidates, reasons), {args.dim}-d vectors, 20 events each; memory in MiB",
        [
            "mode",
            "shoppers timed",
            "seconds",
            "ms/shopper",
            f"all {n:,} (s)",
            "RSS before",
            "RSS peak",
            "peak - before",
        ],
        rows,
    )
    for threads, ratio in ratios:
        print(f"  {threads} thread(s): batched is {ratio:.1f}x faster than the per-shopper loop")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["quality", "scale", "all"], default="all")
    parser.add_argument("--shoppers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale-shoppers", type=int, default=100_000)
    parser.add_argument("--scale-products", type=int, default=20_000)
    parser.add_argument("--loop-sample", type=int, default=300)
    parser.add_argument("--dim", type=int, default=86, help="86: classicstats-v1")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (quality)")
    parser.add_argument(
        "--scale-threads",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 2],
        help="torch thread counts to time the scale part with, e.g. 1,2",
    )
    parser.add_argument("--diversity", type=float, default=DIVERSITY, help="MMR weight")
    parser.add_argument("--scale-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_child:
        result = scale_child(
            args.scale_child, args.scale_shoppers, args.scale_products, args.loop_sample,
            args.dim, args.threads,
        )  # fmt: skip
        print(json.dumps(result))
        return
    import torch

    print(
        f"stylerecs recommendations benchmark: Python {platform.python_version()}, torch "
        f"{torch.__version__}, CPU only, {args.threads} torch threads on {os.cpu_count()} "
        f"cores (a shared machine: other jobs run beside this one, so times vary)."
    )
    if args.part in ("quality", "all"):
        run_quality(args)
    if args.part in ("scale", "all"):
        run_scale(args)


if __name__ == "__main__":
    main()
