"""Plots used across the course, in one consistent style (chapter 0).

Every function returns the matplotlib Figure it drew, so a notebook can show it,
save it or test it; none of them calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

TRAIN_COLOR = "#1f77b4"  # training curves
VAL_COLOR = "#d62728"  # validation curves
PATH_COLORS = (TRAIN_COLOR, "#2ca02c", VAL_COLOR, "#9467bd", "#ff7f0e", "#8c564b")  # optimizer paths
PATH_MARKERS = ("o", "^", "s", "D")  # with PATH_STYLES, paths differ in more than colour
PATH_STYLES = ("-", "--", ":", "-.")
STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 120,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.frameon": False,
    "font.size": 10,
}


def use_course_style() -> None:
    """Apply the course's matplotlib style to every later figure (chapter 0)."""
    plt.rcParams.update(STYLE)


def history_dict(history: Any) -> dict[str, list[float]]:
    """The per-epoch metrics of a Keras History object, or of a plain dict (chapter 0)."""
    data = history.history if hasattr(history, "history") else history
    if not isinstance(data, Mapping) or not data:
        raise ValueError(f"Expected a Keras History or a dict of per-epoch metric lists, got {type(history).__name__}.")
    return {k: [float(v) for v in vals] for k, vals in data.items()}


def plot_history(history: Any, metrics: Sequence[str] | None = None, title: str | None = None) -> plt.Figure:
    """Training vs validation curves per epoch, one panel per metric (chapter 0)."""
    data = history_dict(history)
    if metrics is None:
        metrics = [k for k in data if not k.startswith("val_") and k != "learning_rate"]
    missing = [m for m in metrics if m not in data]
    if missing:
        raise KeyError(f"Metrics {missing} are not in the history (it has {sorted(data)}).")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        epochs = np.arange(1, len(data[name]) + 1)
        ax.plot(epochs, data[name], "o-", color=TRAIN_COLOR, label="training", ms=3)
        if f"val_{name}" in data:
            ax.plot(epochs, data[f"val_{name}"], "s--", color=VAL_COLOR, label="validation", ms=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name.replace("_", " "))
        ax.set_xticks(epochs if len(epochs) <= 12 else np.linspace(1, len(epochs), 6, dtype=int))
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_digits(
    images: np.ndarray,
    labels: Sequence[int] | np.ndarray | None = None,
    predictions: Sequence[int] | np.ndarray | None = None,
    ncols: int = 8,
    title: str | None = None,
) -> plt.Figure:
    """A grid of digits titled with their labels; predictions below, in red where wrong (chapter 0).

    The label is the title (black); the prediction is a separate line under the image, so only
    a wrong prediction is coloured, never the label.
    """
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == 784:
        images = images.reshape(-1, 28, 28)
    if images.ndim != 3:
        raise ValueError(f"Expected images of shape (n, 28, 28) or (n, 784), got {images.shape}.")
    n = len(images)
    if n == 0:
        raise ValueError("No images to plot.")
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    row_height = 1.45 if predictions is None else 1.75
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, row_height * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
        if labels is not None:
            ax.set_title(f"label {int(labels[i])}", fontsize=9, color="black")
        if predictions is not None:
            pred = int(predictions[i])
            wrong = labels is not None and pred != int(labels[i])
            ax.text(
                0.5,
                -0.06,
                f"pred {pred}",
                transform=ax.transAxes,
                ha="center",
                va="top",
                fontsize=9,
                color=VAL_COLOR if wrong else "black",
                fontweight="bold" if wrong else "normal",
            )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, num_classes: int = 10
) -> np.ndarray:
    """Counts[i, j] of examples with true class i predicted as class j (chapter 0)."""
    y_true = np.asarray(y_true, dtype=int).ravel()
    y_pred = np.asarray(y_pred, dtype=int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape} vs {y_pred.shape}.")
    counts = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def plot_confusion_matrix(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    num_classes: int = 10,
    title: str | None = None,
) -> plt.Figure:
    """A confusion-matrix heat map with the counts written in the cells (chapter 0).

    Sized for the page: counts in a 10-point font (about twice the first edition's), mistakes in
    black on light cells, the diagonal's correct answers in white on dark ones; empty cells blank.
    """
    counts = confusion_matrix(y_true, y_pred, num_classes)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    shown = np.where(counts > 0, counts, np.nan)
    im = ax.imshow(np.log1p(shown), cmap="Blues")
    for (i, j), c in np.ndenumerate(counts):
        if c:
            ax.text(
                j,
                i,
                str(c),
                ha="center",
                va="center",
                fontsize=10 if i != j else 9,
                color="white" if i == j else "black",
                fontweight="bold" if i != j else "normal",
            )
    ax.set_xticks(range(num_classes))
    ax.set_yticks(range(num_classes))
    ax.tick_params(labelsize=11)
    ax.set_xlabel("predicted class", fontsize=11)
    ax.set_ylabel("true class", fontsize=11)
    ax.grid(False)
    cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("log(1 + count)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def grid_values(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    n: int = 200,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, Y, f(X, Y)) on an n x n grid covering xlim x ylim (chapter 1)."""
    xs = np.linspace(xlim[0], xlim[1], n)
    ys = np.linspace(ylim[0], ylim[1], n)
    X, Y = np.meshgrid(xs, ys)
    return X, Y, np.asarray(f(X, Y), dtype=np.float64)


def plot_contours(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    paths: Sequence[np.ndarray] | None = None,
    labels: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    levels: int | Sequence[float] = 15,
    title: str | None = None,
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
    legend_loc: str = "upper right",
) -> plt.Figure:
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
        marker, style = PATH_MARKERS[i % len(PATH_MARKERS)], PATH_STYLES[i % len(PATH_STYLES)]
        # later paths are drawn thinner and on top, so a path hidden under another still shows
        ax.plot(
            path[:, 0],
            path[:, 1],
            marker=marker,
            ls=style,
            color=color,
            ms=max(2.5, 4.5 - i),
            lw=max(0.8, 2.0 - 0.4 * i),
            label=label,
            zorder=3 + i,
        )
        ax.plot(path[0, 0], path[0, 1], "s", color="black", ms=6, zorder=10)
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
