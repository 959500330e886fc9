"""Gradient tools: gradient checks, per-layer gradient norms, 2-D loss surfaces (chapter 1).

Kept small and framework-light so later chapters (optimizers, regularization) can reuse
them: TensorFlow is imported only inside :func:`gradient_norms`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

PATH_COLORS = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b")


def relative_error(a: Any, b: Any, eps: float = 1e-12) -> float:
    """Relative error ||a - b|| / max(||a|| + ||b||, eps) used in gradient checks (chapter 1)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"Cannot compare gradients with {a.size} and {b.size} values.")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), eps))


def gradient_norms(model: Any, x: Any, y: Any, loss_fn: Callable[[Any, Any], Any],
                   kernels_only: bool = True) -> dict[str, float]:
    """L2 norm of the loss gradient for each trainable variable (or only the kernels), by path (chapter 1)."""
    import tensorflow as tf
    variables = [v for v in model.trainable_variables
                 if not kernels_only or v.path.endswith("kernel")]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, variables)
    return {v.path: float(tf.norm(g)) if g is not None else 0.0 for v, g in zip(variables, grads)}


def grid_values(f: Callable[[np.ndarray, np.ndarray], np.ndarray], xlim: tuple[float, float],
                ylim: tuple[float, float], n: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, Y, f(X, Y)) on an n x n grid covering xlim x ylim (chapter 1)."""
    xs = np.linspace(xlim[0], xlim[1], n)
    ys = np.linspace(ylim[0], ylim[1], n)
    X, Y = np.meshgrid(xs, ys)
    return X, Y, np.asarray(f(X, Y), dtype=np.float64)


def plot_contours(f: Callable[[np.ndarray, np.ndarray], np.ndarray], xlim: tuple[float, float],
                  ylim: tuple[float, float], paths: Sequence[np.ndarray] | None = None,
                  labels: Sequence[str] | None = None, ax: plt.Axes | None = None,
                  levels: int | Sequence[float] = 15, title: str | None = None,
                  xlabel: str = "$x_1$", ylabel: str = "$x_2$", legend_loc: str = "upper right") -> plt.Figure:
    """Contour lines of f(x, y) with optional optimization paths drawn on top (chapter 1).

    paths  -- arrays of shape (steps, 2): the points an optimizer visited, start first
    labels -- one legend entry per path
    ax     -- draw into this Axes (the Figure it belongs to is returned)
    legend_loc -- where matplotlib puts the legend of the paths
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 4.2))
    else:
        fig = ax.figure
    X, Y, Z = grid_values(f, xlim, ylim)
    cs = ax.contour(X, Y, Z, levels=levels, colors="0.55", linewidths=0.8)
    ax.clabel(cs, fontsize=7, fmt="%.3g")
    for i, path in enumerate(paths or []):
        path = np.asarray(path, dtype=np.float64)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"A path must have shape (steps, 2), got {path.shape}.")
        color = PATH_COLORS[i % len(PATH_COLORS)]
        label = labels[i] if labels is not None and i < len(labels) else None
        ax.plot(path[:, 0], path[:, 1], "o-", color=color, ms=3, lw=1.2, label=label)
        ax.plot(path[0, 0], path[0, 1], "s", color=color, ms=6)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("equal", adjustable="box")
    ax.grid(False)
    if labels:
        ax.legend(loc=legend_loc, fontsize=8, framealpha=0.85, frameon=True)
    if title:
        ax.set_title(title)
    return fig
