"""The hybrid taste model: collaborative factors, visual taste and popularity, blended.

- Collaborative part: implicit-feedback ALS (Hu, Koren & Volinsky 2008, "Collaborative
  filtering for implicit feedback datasets"), fitted by the conjugate-gradient solver of
  the ``implicit`` package (Takács, Pilászy & Tikk 2011), plus an item-item part: each
  product's nearest neighbours by BM25-weighted co-occurrence (``implicit``'s
  BM25Recommender; Robertson's BM25 weighting), so that "bought together" survives
  where a few factors smooth it away (a tuned BM25 item-kNN beat tuned ALS on the
  collaborative and mixed shops of bench/recs.py). Each pair's weight is shrunk by the
  shoppers who touched both, ``n / (n + knn_shrink)`` (Koren 2008, "Factorization meets
  the neighborhood"), so that it grows with the evidence. EASE was not taken: its Gram
  matrix of 20,000 products is 1.6 GB and an O(P^3) inverse.
- Visual part: the product embeddings, projected on their principal axes so that one
  matrix product scores 100,000 shoppers; a shopper's visual taste is the decayed,
  weighted mean of what they touched plus their explicit styles (dislikes subtract).
- Products without history: a ridge map from looks to item factors, trained on the
  products with history, gives every product a collaborative standing; a product's own
  factors take over as its buyers accumulate (``looks_shrink``).
- Looks-alike part: each product's nearest products by looks (cosine of the visual
  rows), kept by the fit. A shopper's score for a product is the share of their history
  that looks like it, each touched product counting ``sigmoid((cosine - threshold) /
  softness)``: where the visual part's mean taste is linear in the looks (a product half
  like each of two styles scores as one like both), this part asks whether the product
  looks like something the shopper touched. Measured in stop 14 (docs/BENCHMARKS.md).
- Blend: each part's weight follows the shopper's history (collaborative grows with it,
  popularity fades with it), so a newcomer sees popular products and their looks, a
  regular their collaborative neighbourhood. All of it is one (B, f + d + 1) by
  (f + d + 1, P) matrix product per batch, the item-item part added from the batch's
  events (E x k scattered adds), then ``topk``.

User factors are folded in at scoring time (the last half-step of ALS, solved exactly:
stylerecs/engine/taste_side.py, which lays a fitted model over the catalogue), so
scoring chunks need nothing but the model file and their shoppers' events. Imports
torch and numpy; ``implicit`` and ``scipy`` only inside :func:`fit`.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from .taste_params import TasteParams

__all__ = ["EPS", "FORMAT", "TasteModel", "TasteParams", "fit", "project", "with_bias"]

FORMAT = "stylerecs-taste-v1"
EPS = 1e-8
# Neighbours kept per product by the fit; ``TasteParams.knn_neighbours`` uses the first.
KNN_STORED = 100


@dataclass
class TasteModel:
    """A fitted model: per-product factors and the maps from looks, as numpy arrays."""

    params: TasteParams
    item_keys: list[str]  # product ids as strings, in the order of item_factors
    item_factors: np.ndarray  # (P, f) own factors blended with the looks' prediction
    looks_map: np.ndarray  # (d + 1, f): projected looks (and a bias) -> factors
    projection: np.ndarray  # (D, d): embedding -> visual space
    centre: np.ndarray  # (D,)
    meta: dict = field(default_factory=dict)
    # (P, k) nearest products by co-occurrence, best first (-1 padded), and their
    # weights (see :func:`neighbours`). None in models saved before the item-item part
    # existed (they score without it).
    knn_items: np.ndarray | None = None
    knn_weights: np.ndarray | None = None
    # (P, k) nearest products by looks, best first (-1 padded), and their cosines. None
    # in models saved before the looks-alike part existed (they score without it).
    looks_items: np.ndarray | None = None
    looks_cosines: np.ndarray | None = None

    def save(self) -> bytes:
        """The model as an ``.npz`` file's bytes (what goes into storage)."""
        buffer = io.BytesIO()
        header = {"format": FORMAT, "params": self.params.as_dict(), "meta": self.meta}
        np.savez_compressed(
            buffer,
            header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            item_keys=np.array(self.item_keys, dtype=str),
            item_factors=self.item_factors.astype(np.float32),
            looks_map=self.looks_map.astype(np.float32),
            projection=self.projection.astype(np.float32),
            centre=self.centre.astype(np.float32),
            **(
                {
                    "knn_items": self.knn_items.astype(np.int32),
                    "knn_weights": self.knn_weights.astype(np.float32),
                }
                if self.knn_items is not None
                else {}
            ),
            **(
                {
                    "looks_items": self.looks_items.astype(np.int32),
                    "looks_cosines": self.looks_cosines.astype(np.float32),
                }
                if self.looks_items is not None
                else {}
            ),
        )
        return buffer.getvalue()

    @classmethod
    def load(cls, data: bytes) -> TasteModel:
        """Read what :meth:`save` wrote; ``ValueError`` on anything else."""
        try:
            arrays = np.load(io.BytesIO(data), allow_pickle=False)
            header = json.loads(bytes(arrays["header"]).decode())
        except Exception as exc:
            raise ValueError(f"not a stylerecs taste model file: {exc}") from exc
        if header.get("format") != FORMAT:
            raise ValueError(f"unknown taste model format {header.get('format')!r}")
        return cls(
            params=TasteParams.from_dict(header["params"]),
            item_keys=[str(k) for k in arrays["item_keys"].tolist()],
            item_factors=arrays["item_factors"],
            looks_map=arrays["looks_map"],
            projection=arrays["projection"],
            centre=arrays["centre"],
            meta=header.get("meta", {}),
            knn_items=arrays["knn_items"] if "knn_items" in arrays.files else None,
            knn_weights=arrays["knn_weights"] if "knn_weights" in arrays.files else None,
            looks_items=arrays["looks_items"] if "looks_items" in arrays.files else None,
            looks_cosines=arrays["looks_cosines"] if "looks_cosines" in arrays.files else None,
        )


def visual_space(vectors: Tensor, *, dims: int) -> tuple[Tensor, Tensor]:
    """Principal axes of the product embeddings: ``(projection (D, d), centre (D,))``."""
    vectors = vectors.float()
    centre = vectors.mean(dim=0)
    dims = min(int(dims), vectors.shape[1], max(vectors.shape[0] - 1, 1))
    if dims >= vectors.shape[1]:
        return torch.eye(vectors.shape[1]), centre
    # Seeded: the same catalogue gives the same axes (randomised SVD).
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        _, _, v = torch.svd_lowrank(vectors - centre, q=dims + 8, niter=4)
    finally:
        torch.random.set_rng_state(generator_state)
    return v[:, :dims].contiguous(), centre


def project(vectors: Tensor, projection: Tensor, centre: Tensor) -> Tensor:
    """Embeddings in the visual space, unit rows (the cosine is the visual score)."""
    out = (vectors.float() - centre) @ projection
    return torch.nn.functional.normalize(out, dim=1, eps=EPS)


def fit(
    *,
    n_users: int,
    item_keys: list[str],
    item_vectors: Tensor,
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    weights: np.ndarray,
    params: TasteParams,
    threads: int = 1,
) -> TasteModel:
    """Fit the model on events already weighted by kind and decayed by age.

    ``item_vectors`` (P, D) are the products' embeddings (the catalogue's standardised
    rows); ``user_idx``/``item_idx``/``weights`` one entry per event (positive weights;
    duplicates add up).
    """
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    n_items = len(item_keys)
    keep = weights > 0
    matrix = sp.csr_matrix(
        (weights[keep].astype(np.float32), (user_idx[keep], item_idx[keep])),
        shape=(max(n_users, 1), n_items),
    )
    matrix.sum_duplicates()
    factors = int(params.factors)
    if matrix.nnz:
        # implicit's own advice: its threads, not BLAS threads inside each of them.
        with threadpool_limits(1, "blas"):
            als = AlternatingLeastSquares(
                factors=factors,
                regularization=float(params.regularization),
                alpha=float(params.alpha),
                iterations=int(params.iterations),
                num_threads=int(threads),
                random_state=0,
                calculate_training_loss=False,
            )
            als.fit(matrix, show_progress=False)
        own = np.asarray(als.item_factors, dtype=np.float32)
    else:
        own = np.zeros((n_items, factors), dtype=np.float32)
    buyers = np.diff(matrix.tocsc().indptr).astype(np.float32)  # shoppers per product
    knn_items, knn_weights = neighbours(
        matrix, k=KNN_STORED, threads=threads, shrink=float(params.knn_shrink)
    )

    projection, centre = visual_space(item_vectors, dims=params.visual_dims)
    visual = project(item_vectors, projection, centre)
    looks_items, looks_cosines = looks_alike(visual, k=KNN_STORED)
    looks = with_bias(visual)
    warm = torch.from_numpy(buyers > 0)
    target = torch.from_numpy(own)
    if bool(warm.any()):
        z, y = looks[warm], target[warm]
        gram = z.T @ z + float(params.ridge) * torch.eye(z.shape[1])
        looks_map = torch.linalg.solve(gram, z.T @ y)
    else:
        looks_map = torch.zeros(looks.shape[1], factors)
    predicted = looks @ looks_map
    n = torch.from_numpy(buyers)[:, None]
    shrink = float(params.looks_shrink)
    blended = (n * target + shrink * predicted) / (n + shrink).clamp_min(EPS)
    return TasteModel(
        params=params,
        item_keys=list(item_keys),
        item_factors=blended.numpy().astype(np.float32),
        looks_map=looks_map.numpy().astype(np.float32),
        projection=projection.numpy().astype(np.float32),
        centre=centre.numpy().astype(np.float32),
        meta={"users": int(n_users), "items": n_items, "nnz": int(matrix.nnz)},
        knn_items=knn_items,
        knn_weights=knn_weights,
        looks_items=looks_items,
        looks_cosines=looks_cosines,
    )


def looks_alike(visual: Tensor, *, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Each product's ``k`` nearest products by the cosine of its ``visual`` row (unit
    rows), best first, itself left out: ``(items (P, k) int32, -1 padded, cosines (P, k)
    float32)``. In chunks of rows: a (chunk, P) block at a time, never (P, P)."""
    n = visual.shape[0]
    items = np.full((n, k), -1, dtype=np.int32)
    cosines = np.zeros((n, k), dtype=np.float32)
    width = min(k, n - 1)
    if width <= 0:
        return items, cosines
    for start in range(0, n, chunk):
        block = visual[start : start + chunk] @ visual.T
        rows = torch.arange(block.shape[0])
        block[rows, rows + start] = -math.inf
        top, at = torch.topk(block, width, dim=1)
        items[start : start + block.shape[0], :width] = at.numpy()
        cosines[start : start + block.shape[0], :width] = top.numpy()
    return items, cosines


def neighbours(
    matrix, *, k: int, threads: int = 1, shrink: float = 0.0, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Each product's ``k`` nearest products by BM25-weighted co-occurrence in the
    (shoppers x products) ``matrix``, best first: ``(items (P, k) int32, -1 padded,
    weights (P, k) float32)``, a product's own row left out. All rows share one scale
    (the median product's nearest neighbour weighs 1): how strong a product's
    co-occurrence evidence is stays in its weights, as in implicit's own item-kNN. (Each
    row scaled to its own best, as before, lost that: measured on bench/recs.py's
    shops, validation recall fell in all five families it was tried on.)

    ``shrink`` > 0 shrinks each pair's weight by ``n / (n + shrink)``, ``n`` the shoppers
    who touched both (Koren 2008's shrunk neighbourhood similarities): a pair seen
    together by few shoppers weighs less than its BM25 score says, and more as the shop's
    history grows. Those counts are taken ``chunk`` products at a time."""
    from implicit.nearest_neighbours import BM25Recommender
    from threadpoolctl import threadpool_limits

    n_items = matrix.shape[1]
    items = np.full((n_items, k), -1, dtype=np.int32)
    weights = np.zeros((n_items, k), dtype=np.float32)
    if not matrix.nnz:
        return items, weights
    with threadpool_limits(1, "blas"), warnings.catch_warnings():
        # implicit's own BM25 weighting hands its kNN a COO matrix, and warns about it.
        warnings.filterwarnings("ignore", message="Method expects CSR input")
        model = BM25Recommender(K=k + 1, num_threads=int(threads))  # +1: itself
        model.fit(matrix, show_progress=False)
    similarity = model.similarity.tocoo()
    row, col, value = similarity.row, similarity.col, similarity.data.astype(np.float32)
    keep = (row != col) & (value > 0)
    row, col, value = row[keep], col[keep], value[keep]
    best = np.zeros(n_items, dtype=np.float32)
    np.maximum.at(best, row, value)
    if (best > 0).any():
        value = value / np.median(best[best > 0])
    if shrink > 0:
        # Shoppers who touched both products of each stored pair: the (P, P)
        # co-occurrence a block of rows at a time (its densest rows can hold P entries).
        touched = (matrix > 0).astype(np.float32).tocsc()
        n = np.zeros(len(row), dtype=np.float32)
        for start in range(0, n_items, chunk):
            these = (row >= start) & (row < start + chunk)
            if these.any():
                together = (touched[:, start : start + chunk].T @ touched).tocsr()
                n[these] = np.asarray(together[row[these] - start, col[these]]).ravel()
        value = value * (n / (n + float(shrink)))
    order = np.lexsort((-value, row))  # by product, best first
    row, col, value = row[order], col[order], value[order]
    starts = np.searchsorted(row, np.arange(n_items))
    rank = np.arange(len(row)) - starts[row]
    keep = rank < k
    items[row[keep], rank[keep]] = col[keep]
    weights[row[keep], rank[keep]] = value[keep]
    return items, weights


def with_bias(x: Tensor) -> Tensor:
    """``x`` with a column of ones (the looks map's intercept)."""
    return torch.cat((x, torch.ones(x.shape[0], 1, dtype=x.dtype)), dim=1)
