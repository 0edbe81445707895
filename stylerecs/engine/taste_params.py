"""The taste model's parameters: plain data, importable without torch (the system
checks validate ``STYLERECS['TASTE_TUNING']`` against these fields on a web server)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

__all__ = ["BLEND_FIELDS", "TasteParams", "tuning_errors"]

# What needs no refit: scored against one fit. ``user_half_life_days`` needs a new
# fold-in of the shoppers (cheap), ``popularity_days`` a new popularity column.
BLEND_FIELDS = {
    "user_half_life_days",
    "popularity_days",
    "cf_weight",
    "cf_history",
    "visual_weight",
    "popularity_weight",
    "popularity_history",
    "knn_weight",
    "knn_neighbours",
    "looks_weight",
    "looks_threshold",
    "looks_softness",
    "looks_kind_power",
}


@dataclass(frozen=True)
class TasteParams:
    """What the self-tuning job searches (see stylerecs/engine/taste_tuning.py)."""

    factors: int = 32
    regularization: float = 0.05
    alpha: float = 4.0  # ALS confidence per unit of (decayed, kind-weighted) event
    iterations: int = 12
    half_life_days: float = 30.0  # how fast events fade in the fit (what products share)
    # How fast a shopper's own events fade when their taste is read (the fold-in, the
    # visual taste and the item-item part): tastes drift faster than what goes together.
    user_half_life_days: float = 30.0
    cf_weight: float = 1.0  # weight of the collaborative score at full history
    cf_history: float = 1.0  # history (weighted events) at which it has half its weight
    visual_weight: float = 0.3
    popularity_weight: float = 0.3  # weight of popularity for a shopper with no history
    popularity_history: float = 2.0  # history at which popularity keeps half its weight
    popularity_days: float = 30.0  # window of the popularity part (events of the last N days)
    looks_shrink: float = 2.0  # buyers at which a product's own factors weigh as its looks
    # Item-item part: its weight at full history (grows with history as cf_weight does;
    # 0: off) and the neighbours of each touched product it spreads to.
    knn_weight: float = 0.0
    knn_neighbours: int = 100
    # Shoppers who touched both at which a pair of neighbours keeps half its weight
    # (0: BM25's weight as it is); see stylerecs/engine/taste.py, ``neighbours``.
    knn_shrink: float = 10.0
    # Looks-alike part: how much of the shopper's (decayed, weighted) history looks like
    # a product. Each touched product spreads its share of the history over its nearest
    # products by looks, each at sigmoid((cosine - looks_threshold) / looks_softness)
    # (cosine of the visual rows): a soft "looks like it" where the visual part's mean
    # taste is linear. Its weight (0: off) does not grow with history.
    looks_weight: float = 0.0
    looks_threshold: float = 0.25
    looks_softness: float = 0.02
    # How the kind of an event counts in the looks-alike part: its weight to this power
    # (0: every view, like, cart and purchase alike, each product touched is as much
    # evidence of what the shopper looks at; 1: weighted as in the other parts).
    looks_kind_power: float = 0.0
    visual_dims: int = 32
    ridge: float = 1.0

    def but(self, **changes) -> TasteParams:
        """A copy with some values changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TasteParams:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        if "half_life_days" in known:
            # Models saved before the shoppers' own half-life existed used one for both.
            known.setdefault("user_half_life_days", known["half_life_days"])
        # Models saved before neighbours were shrunk stored BM25's weights as they are.
        known.setdefault("knn_shrink", 0.0)
        # Models saved before it weighed the looks-alike part's events by their kind.
        known.setdefault("looks_kind_power", 1.0)
        return cls(**known)


POSITIVE = {
    "factors",
    "iterations",
    "half_life_days",
    "user_half_life_days",
    "popularity_days",
    "knn_neighbours",
    "looks_softness",
}


# Upper bounds: the looks-alike part's kind power past 1 would weigh a purchase more
# than its weight elsewhere, and past about 60 overflow a float (4.0 ** 64).
AT_MOST = {"looks_kind_power": 1.0}


def tuning_errors(tuning) -> list[str]:
    """What is wrong with a ``{"fit": {field: [values]}, "blend": {...}}`` search space."""
    if not isinstance(tuning, dict) or set(tuning) - {"fit", "blend"}:
        return ['must be a dict with the keys "fit" and "blend"']
    names = {f.name: f.type for f in fields(TasteParams)}
    problems = []
    for part in ("fit", "blend"):
        options = tuning.get(part, {})
        if not isinstance(options, dict):
            problems.append(f"{part!r} must map parameter names to lists of values")
            continue
        for name, values in options.items():
            if name not in names:
                problems.append(f"{part!r} names an unknown parameter {name!r}")
            elif part == "blend" and name not in BLEND_FIELDS:
                problems.append(f"{name!r} needs a refit: put it under 'fit', not 'blend'")
            elif (
                not isinstance(values, list | tuple)
                or not values
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            ):
                problems.append(f"{part}.{name} must be a non-empty list of numbers")
            elif (
                any(v < 0 for v in values)
                or (name in POSITIVE and any(v <= 0 for v in values))
                or (name in AT_MOST and any(v > AT_MOST[name] for v in values))
            ):
                problems.append(f"{part}.{name} has a value out of range: {values!r}")
    return problems
