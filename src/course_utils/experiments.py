"""Repeating a training run over seeds and reporting the spread (chapter 2).

Two settings whose results differ by less than the seed-to-seed spread cannot be ranked. These
helpers run the same experiment for several seeds, collect its numbers, and say whether two
sets of results are separated at all, so a chapter only claims a winner where the runs show one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np


def over_seeds(run: Callable[[int], Mapping[str, Any]], seeds: Iterable[int]) -> dict[str, np.ndarray]:
    """Call run(seed) for every seed and stack each returned quantity: {name: array (seeds, ...)} (chapter 2).

    run returns a dict of numbers or equally shaped arrays (a final accuracy, a curve per epoch).
    """
    collected: dict[str, list[Any]] = {}
    seeds = list(seeds)
    if not seeds:
        raise ValueError("Give at least one seed.")
    for seed in seeds:
        result = run(seed)
        if collected and set(result) != set(collected):
            raise ValueError(f"run({seed}) returned {sorted(result)}, earlier seeds {sorted(collected)}.")
        for name, value in result.items():
            collected.setdefault(name, []).append(np.asarray(value, dtype=np.float64))
    return {name: np.stack(values) for name, values in collected.items()}


def spread_text(values: Any, digits: int = 3) -> str:
    """'mean ± std (min to max)' of per-seed results, as the prose reports them (chapter 2)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f} ({v.min():.{digits}f} to {v.max():.{digits}f})"


def separated(a: Any, b: Any) -> bool:
    """True when every seed of one setting beats every seed of the other: the ranges do not overlap (chapter 2).

    A deliberately strict test for a handful of seeds: overlapping ranges mean the chapter claims no winner.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("Both settings need at least one result.")
    return bool(a.min() > b.max() or b.min() > a.max())
