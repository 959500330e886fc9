"""Looking inside regularized models: weight statistics, weight histograms and side-by-side
training curves (chapter 4, "Regularization and normalization").

L1 and L2 penalties change the *distribution* of the weights (many exact or near zeros for L1,
uniformly smaller weights for L2) more visibly than they change the accuracy, so the chapter
compares histograms and the fraction of near-zero weights; and it compares methods by their
training and validation curves next to each other. These helpers keep those figures identical
from one section (and one chapter) to the next. Only NumPy and matplotlib are imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .plots import PATH_COLORS, TRAIN_COLOR, VAL_COLOR, history_dict


def kernel_weights(model: Any) -> np.ndarray:
    """All kernel (weight-matrix) entries of a Keras model as one flat array, biases left out (chapter 4).

    Penalties are usually applied to kernels only, so biases would blur the comparison.
    """
    kernels = [np.asarray(v).ravel() for v in model.weights if v.path.endswith("kernel")]
    if not kernels:
        raise ValueError("The model has no kernel weights (no Dense or Conv layers?).")
    return np.concatenate(kernels)


def near_zero_fraction(weights: Any, threshold: float = 1e-3) -> float:
    """The fraction of entries whose absolute value is below `threshold` (chapter 4)."""
    w = np.abs(np.asarray(weights, dtype=np.float64)).ravel()
    if w.size == 0:
        raise ValueError("No weights given.")
    return float(np.mean(w < threshold))


def plot_weight_histograms(
    weights: Mapping[str, Any],
    bins: int = 81,
    limit: float | None = None,
    threshold: float = 1e-3,
) -> plt.Figure:
    """One histogram of weights per model, on a shared axis, logarithmic counts (chapter 4).

    weights   -- model name -> its weights (any shape)
    limit     -- the x-axis covers [-limit, limit] (default: the largest absolute weight)
    threshold -- the legend gives the fraction of weights with |w| below it
    """
    if not weights:
        raise ValueError("No weights to plot.")
    arrays = {name: np.asarray(w, dtype=np.float64).ravel() for name, w in weights.items()}
    if limit is None:
        limit = max(float(np.abs(a).max()) for a in arrays.values()) or 1.0
    edges = np.linspace(-limit, limit, bins + 1)
    n = len(arrays)
    fig, axes = plt.subplots(1, n, figsize=(2.35 * n + 0.6, 2.9), sharex=True, sharey=True, squeeze=False)
    for i, (ax, (name, a)) in enumerate(zip(axes[0], arrays.items())):
        ax.hist(np.clip(a, -limit, limit), bins=edges, color=PATH_COLORS[i % len(PATH_COLORS)], alpha=0.85)
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("weight value")
        share = near_zero_fraction(a, threshold)
        ax.text(0.03, 0.97, f"|w| < {threshold:g}:\n{share:.0%}", transform=ax.transAxes, va="top", fontsize=8)
    axes[0][0].set_ylabel("number of weights (log scale)")
    fig.tight_layout()
    return fig


def plot_curve_panels(
    histories: Mapping[str, Any],
    metric: str = "loss",
    ylim: tuple[float, float] | None = None,
    ylabel: str | None = None,
) -> plt.Figure:
    """Training and validation curves of several runs, one panel per run, shared axes (chapter 4).

    histories -- run name -> a Keras History or a dict with ``metric`` and ``val_<metric>`` lists
    """
    if not histories:
        raise ValueError("No runs to plot.")
    data = {name: history_dict(h) for name, h in histories.items()}
    for name, h in data.items():
        if metric not in h or f"val_{metric}" not in h:
            raise KeyError(f"Run {name!r} has no {metric!r} and 'val_{metric}' curves (it has {sorted(h)}).")
    n = len(data)
    fig, axes = plt.subplots(1, n, figsize=(2.6 * n + 0.6, 3.0), sharey=True, squeeze=False)
    for ax, (name, h) in zip(axes[0], data.items()):
        epochs = np.arange(1, len(h[metric]) + 1)
        ax.plot(epochs, h[metric], "-", color=TRAIN_COLOR, label="training")
        ax.plot(epochs, h[f"val_{metric}"], "--", color=VAL_COLOR, label="validation")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        if ylim is not None:
            ax.set_ylim(*ylim)
    axes[0][0].set_ylabel(ylabel or metric.replace("_", " "))
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def final_gap(history: Any, metric: str = "accuracy", last: int = 3) -> float:
    """Training minus validation `metric`, averaged over the last epochs: the overfitting gap (chapter 4)."""
    h = history_dict(history)
    if metric not in h or f"val_{metric}" not in h:
        raise KeyError(f"The history has no {metric!r} and 'val_{metric}' curves.")
    train, val = np.asarray(h[metric][-last:]), np.asarray(h[f"val_{metric}"][-last:])
    return float(np.mean(train - val))


def best_epoch(history: Any, metric: str = "val_loss", mode: str = "min") -> int:
    """The 1-based epoch with the lowest (mode 'min') or highest ('max') value of a metric (chapter 4)."""
    values = np.asarray(history_dict(history)[metric])
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
    return int(np.argmin(values) if mode == "min" else np.argmax(values)) + 1


def seed_interval(values: Any, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and its t interval, column by column (chapter 4's bands and error bars).

    values -- one row per seed (e.g. a curve per seed, or one result per seed as a column)
    Returns (mean, low, high), each with one entry per column: the mean over the rows and the
    two-sided `confidence` interval of that mean, mean +- t * sd / sqrt(n), Student's t with n - 1
    degrees of freedom (the interval course_utils.compare uses for one setting).
    """
    from .compare import t_quantile

    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    n = v.shape[0]
    if n < 2:
        raise ValueError("An interval over seeds needs at least two seeds.")
    mean = v.mean(axis=0)
    half = t_quantile(0.5 + confidence / 2, n - 1) * v.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


__all__: Sequence[str] = (
    "best_epoch",
    "seed_interval",
    "final_gap",
    "kernel_weights",
    "near_zero_fraction",
    "plot_curve_panels",
    "plot_weight_histograms",
)
