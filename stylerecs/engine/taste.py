"""The hybrid taste model: collaborative factors, visual taste and popularity, blended.

- Collaborative part: implicit-feedback ALS (Hu, Koren & Volinsky 2008, "Collaborative
  filtering for implicit feedback datasets"), fitted by the conjugate-gradient solver of
  the ``implicit`` package (Takács, Pilászy & Tikk 2011), plus an item-item part: each
  product's nearest neighbours by BM25-weighted co-occurrence (``implicit``'s
  BM25Recommender; Robertson's BM25 weighting), so that "bought together" survives
  where a few factors smooth it away (a tuned BM25 item-kNN beat tuned ALS on the
  collaborative and mixed shops of bench/recs.py). EASE was not taken: its Gram matrix
  of 20,000 products is 1.6 GB and an O(P^3) inverse.
- Visual part: the product embeddings, projected on their principal axes so that one
  matrix product scores 100,000 shoppers; a shopper's visual taste is the decayed,
  weighted mean of what they touched plus their explicit styles (dislikes subtract).
- Products without history: a ridge map from looks to item factors, trained on the
  products with history, gives every product a collaborative standing; a product's own
  factors take over as its buyers accumulate (``looks_shrink``).
- Blend: each part's weight follows the shopper's history (collaborative grows with it,
  popularity fades with it), so a newcomer sees popular products and their looks, a
  regular their collaborative neighbourhood. All of it is one (B, f + d + 1) by
  (f + d + 1, P) matrix product per batch, the item-item part added from the batch's
  events (E x k scattered adds), then ``topk``.

User factors are folded in at scoring time (the last half-step of ALS, solved exactly),
so scoring chunks need nothing but the model file and their shoppers' events. Imports
torch and numpy; ``implicit`` and ``scipy`` only inside :func:`fit`.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from .taste_params import TasteParams

__all__ = [
    "FORMAT", "ItemSide", "TasteModel", "TasteParams", "fit", "fold_in", "item_side", "user_side",
    "with_popularity",
]  # fmt: skip

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
    # similarity scaled so that each product's nearest is 1. None in models saved
    # before the item-item part existed (they score without it).
    knn_items: np.ndarray | None = None
    knn_weights: np.ndarray | None = None

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
    knn_items, knn_weights = neighbours(matrix, k=KNN_STORED, threads=threads)

    projection, centre = visual_space(item_vectors, dims=params.visual_dims)
    looks = _with_bias(project(item_vectors, projection, centre))
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
    )


def neighbours(matrix, *, k: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each product's ``k`` nearest products by BM25-weighted co-occurrence in the
    (shoppers x products) ``matrix``, best first: ``(items (P, k) int32, -1 padded,
    weights (P, k) float32)``, a product's own row left out. All rows share one scale
    (the median product's nearest neighbour weighs 1): how strong a product's
    co-occurrence evidence is stays in its weights, as in implicit's own item-kNN. (Each
    row scaled to its own best, as before, lost that: measured on bench/recs.py's
    shops, validation recall fell in all five families it was tried on.)"""
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
    order = np.lexsort((-value, row))  # by product, best first
    row, col, value = row[order], col[order], value[order]
    starts = np.searchsorted(row, np.arange(n_items))
    rank = np.arange(len(row)) - starts[row]
    keep = rank < k
    row, col, value, rank = row[keep], col[keep], value[keep], rank[keep]
    items[row, rank] = col
    weights[row, rank] = value
    best = weights[:, 0]
    if (best > 0).any():
        weights /= np.median(best[best > 0])
    return items, weights


def _with_bias(x: Tensor) -> Tensor:
    return torch.cat((x, torch.ones(x.shape[0], 1, dtype=x.dtype)), dim=1)


@dataclass
class ItemSide:
    """A model laid over the current catalogue: what a scoring chunk multiplies with."""

    factors: Tensor  # (P, f)
    visual: Tensor  # (P, d) unit rows
    popularity: Tensor  # (P,)
    gram: Tensor  # (f, f): factors.T @ factors, for the fold-in
    matrix: Tensor  # (P, f + d + 1): [factors, visual, popularity]
    knn_items: Tensor | None = None  # (P, k) catalogue rows of each product's neighbours
    knn_weights: Tensor | None = None  # (P, k)


def item_side(
    model: TasteModel, *, item_keys: list[str], item_vectors: Tensor, popularity: Tensor
) -> ItemSide:
    """Align the model with a catalogue; products the model has not seen get the
    factors their looks predict."""
    projection = torch.from_numpy(model.projection)
    centre = torch.from_numpy(model.centre)
    if item_vectors.shape[1] != projection.shape[0]:
        raise ValueError(
            f"the model was fitted on {projection.shape[0]}-d embeddings, "
            f"the catalogue has {item_vectors.shape[1]}-d ones: train it again"
        )
    visual = project(item_vectors, projection, centre)
    factors = _with_bias(visual) @ torch.from_numpy(model.looks_map)
    known = {key: i for i, key in enumerate(model.item_keys)}
    rows = [(i, known[key]) for i, key in enumerate(item_keys) if key in known]
    if rows:
        here, there = (torch.tensor(side, dtype=torch.long) for side in zip(*rows, strict=True))
        factors[here] = torch.from_numpy(model.item_factors)[there]
    pop = popularity.float()
    matrix = torch.cat((factors, visual, pop[:, None]), dim=1).contiguous()
    knn_items = knn_weights = None
    if model.knn_items is not None and rows:
        # The model's product rows as catalogue rows (-1: not in the catalogue now).
        to_catalogue = torch.full((len(model.item_keys) + 1,), -1, dtype=torch.long)
        to_catalogue[there] = here
        stored = torch.from_numpy(model.knn_items.astype(np.int64))
        mapped = to_catalogue[stored[there]]  # -1 stays -1 (the extra last entry)
        knn_items = torch.full((len(item_keys), stored.shape[1]), -1, dtype=torch.long)
        knn_weights = torch.zeros(len(item_keys), stored.shape[1])
        knn_items[here] = mapped
        knn_weights[here] = torch.from_numpy(model.knn_weights)[there] * (mapped >= 0)
    return ItemSide(
        factors=factors,
        visual=visual,
        popularity=pop,
        gram=factors.T @ factors,
        matrix=matrix,
        knn_items=knn_items,
        knn_weights=knn_weights,
    )


def with_popularity(items: ItemSide, popularity: Tensor) -> ItemSide:
    """The same products with another popularity column (another window)."""
    pop = popularity.float()
    matrix = items.matrix.clone()
    matrix[:, -1] = pop
    return replace(items, popularity=pop, matrix=matrix)


def _confidences(items: ItemSide, rows: Tensor, cols: Tensor, weights: Tensor, params):
    """The ALS user step's inputs from positive events: one ``(user, product)`` pair per
    row with its confidence ``c = alpha * r`` (duplicates summed: confidence is per pair,
    not per event), the products' factors ``y`` and ``YᵀY + λI``."""
    n_items, f = items.factors.shape
    pairs, inverse = torch.unique(rows * n_items + cols, return_inverse=True)
    r = torch.zeros(pairs.shape[0]).index_add_(0, inverse, weights.float())
    rows, cols = pairs // n_items, pairs % n_items
    c = float(params.alpha) * r
    base = items.gram + float(params.regularization) * torch.eye(f)
    return rows, cols, c, items.factors[cols], base


def fold_in(
    items: ItemSide,
    *,
    n_users: int,
    rows: Tensor,
    cols: Tensor,
    weights: Tensor,
    params: TasteParams,
    steps: int = 16,
) -> Tensor:
    """User factors of a batch given the item factors: the ALS user step.

    Solves ``(YᵀY + λI + Σ (c - 1) y yᵀ) x = Σ c y`` with ``c = alpha * r`` per (user,
    product), ``r`` the summed decayed weights, as implicit's solver has it, by
    conjugate gradient (Takács et al. 2011) started from ``(YᵀY + λI)⁻¹ b``: each step
    costs one pass over the events (O(E f)), where forming each user's matrix costs
    O(E f²). A fixed number of steps, whatever the batch, so that a shopper's factors
    do not depend on the chunk they are scored in. Shoppers without positive events
    get zero factors.
    """
    f = items.factors.shape[1]
    out = torch.zeros(n_users, f)
    keep = weights > 0
    if not bool(keep.any()):
        return out
    rows, cols, c, y, base = _confidences(items, rows[keep], cols[keep], weights[keep], params)
    b = torch.zeros(n_users, f).index_add_(0, rows, c[:, None] * y)

    def times_a(x: Tensor) -> Tensor:
        extra = (c - 1) * (y * x[rows]).sum(dim=1)
        return (x @ base).index_add_(0, rows, extra[:, None] * y)

    x = b @ torch.linalg.inv(base)
    residual = b - times_a(x)
    direction = residual.clone()
    size = (residual * residual).sum(dim=1)
    for _ in range(int(steps)):
        step = times_a(direction)
        curve = (direction * step).sum(dim=1)
        ok = curve > 1e-20  # converged rows stay as they are
        alpha = torch.where(ok, size / curve.clamp_min(1e-20), torch.zeros_like(size))
        x += alpha[:, None] * direction
        residual -= alpha[:, None] * step
        new_size = (residual * residual).sum(dim=1)
        beta = torch.where(ok, new_size / size.clamp_min(1e-30), torch.zeros_like(size))
        direction = residual + beta[:, None] * direction
        size = new_size
    has = torch.zeros(n_users, dtype=torch.bool)
    has[rows] = True
    return torch.where(has[:, None], x, out)


def fold_in_exact(items: ItemSide, *, n_users, rows, cols, weights, params) -> Tensor:
    """:func:`fold_in` by forming and solving each user's matrix (for tests: slower)."""
    f = items.factors.shape[1]
    out = torch.zeros(n_users, f)
    keep = weights > 0
    if not bool(keep.any()):
        return out
    rows, cols, c, y, base = _confidences(items, rows[keep], cols[keep], weights[keep], params)
    users = torch.unique(rows)
    local = torch.searchsorted(users, rows)
    a = base.expand(users.shape[0], f, f).clone()
    a.index_add_(0, local, (c - 1)[:, None, None] * (y[:, :, None] * y[:, None, :]))
    b = torch.zeros(users.shape[0], f).index_add_(0, local, c[:, None] * y)
    out[users] = torch.linalg.solve(a, b)
    return out


def user_side(
    factors: Tensor, visual_taste: Tensor, history: Tensor, *, params: TasteParams
) -> tuple[Tensor, Tensor]:
    """The user rows of the blend, and each part's weight ``(B, 3)``: cf, visual, pop.

    The collaborative weight grows with history, ``h / (h + cf_history)``; popularity
    fades, ``ph / (ph + h)``; the visual taste is a unit vector (zero without signal).
    """
    h = history.float().clamp_min(0)
    w_cf = float(params.cf_weight) * h / (h + float(params.cf_history) + EPS)
    ph = float(params.popularity_history)
    w_pop = float(params.popularity_weight) * (ph / (ph + h) if ph > 0 else torch.zeros_like(h))
    w_vis = torch.full_like(h, float(params.visual_weight))
    unit = torch.nn.functional.normalize(visual_taste.float(), dim=1, eps=EPS)
    rows = torch.cat((w_cf[:, None] * factors, w_vis[:, None] * unit, w_pop[:, None]), dim=1)
    return rows, torch.stack((w_cf, w_vis, w_pop), dim=1)
