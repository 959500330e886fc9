"""Plots used across the course, in one consistent style (chapter 0).

Every function returns the matplotlib Figure it drew, so a notebook can show it,
save it or test it; none of them calls ``plt.show()``.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.text import Text

TRAIN_COLOR = "#1f77b4"  # training curves
VAL_COLOR = "#d62728"  # validation curves
PATH_COLORS = (TRAIN_COLOR, "#2ca02c", VAL_COLOR, "#9467bd", "#ff7f0e", "#8c564b")  # optimizer paths
PATH_MARKERS = ("o", "^", "s", "D")  # with PATH_STYLES, paths differ in more than colour
PATH_STYLES = ("-", "--", ":", "-.")
# A figure is shown at its size at 100 dpi (an 8-inch figure is 800 px wide on the page, a little
# less than the text column) and drawn at twice that, so it stays sharp on a high-density screen,
# when zoomed on a phone, and in print. Sizes in points: 10 pt is 14 px at that size.
PIXEL_RATIO = 2
STYLE: dict[str, Any] = {
    "figure.dpi": 100,
    "savefig.dpi": 100 * PIXEL_RATIO,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "font.size": 11,
}
# The PNG text chunk in which figure_png records its smallest text, in px at the figure's size.
TEXT_KEY = "course-smallest-text-px"
# The widest a figure is shown in the built book, in CSS px (measured in Chromium; the browser test
# checks these): a numbered figure or a cell's output image may take the text column less its
# padding. A figure wider than that is scaled down to it, and its text with it. Other desktop
# widths: 760 px at a 1024 px window, 883 at 1366, 919 at 1920.
COLUMN_PX = {"desktop": 811, "phone": 342}  # a 1280 px window; a 390 px phone
# The smallest text a figure may show, in CSS px (tests/test_browser.py): 7 px on a laptop; 3 px
# on a phone, which the 2x PNG keeps sharp when pinched to twice that (6 px).
READABLE_PX = {"desktop": 7.0, "phone": 3.0}


def shown_text_px(width_in: float, smallest_pt: float, column_px: float) -> float:
    """The size in CSS px at which a figure's smallest text is shown in a column of column_px.

    A figure width_in inches wide (as saved: figure_png trims it to its drawn parts) is shown at
    figure.dpi px per inch, 100, and scaled down to the column where it is wider; its text of
    smallest_pt points is smallest_pt * 100 / 72 px at its size, times that scale. So a 10-pt
    label in an 8-inch figure shows at 13.9 px on a laptop (811 px column: no scaling) and at
    13.9 * 342 / 800 = 5.9 px on a phone.
    """
    if width_in <= 0 or smallest_pt <= 0 or column_px <= 0:
        raise ValueError(f"Expected positive sizes, got {width_in} in, {smallest_pt} pt, {column_px} px.")
    dpi = STYLE["figure.dpi"]
    return smallest_pt * dpi / 72 * min(1.0, column_px / (width_in * dpi))


def widest_figure_in(smallest_pt: float) -> float:
    """The widest figure, in inches as saved, whose smallest text of smallest_pt points is shown
    at READABLE_PX or more both on a laptop and on a phone (COLUMN_PX); 0 if none is.

    Scaled to a column of C px, text of s pt shows at s * C / (72 * W) px for a W-inch figure,
    so W may be at most s * C / (72 * READABLE_PX). The phone decides: about 1.58 inches per
    point (12.7 in for 8-pt text, 15.8 in for 10 pt); on a laptop 1.61.
    """
    dpi = STYLE["figure.dpi"]
    if any(smallest_pt * dpi / 72 < READABLE_PX[screen] for screen in COLUMN_PX):
        return 0.0  # too small even at the figure's own size
    return min(smallest_pt * COLUMN_PX[screen] / (72 * READABLE_PX[screen]) for screen in COLUMN_PX)


def use_course_style() -> None:
    """Apply the course's matplotlib style to every later figure (chapter 0).

    In IPython (a notebook) figures are also shown through figure_png: drawn at twice their size.
    """
    plt.rcParams.update(STYLE)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    shell = get_ipython()
    if shell is not None:
        # Jupyter's inline backend registers its own PNG formatter when it starts, which pyplot
        # does at its first figure: start it now, so that figure_png replaces it and stays.
        plt.close(plt.figure())
        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


def smallest_text_pt(fig: Figure) -> float | None:
    """The size in points of the smallest visible text of the figure; None if it has no text."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) if sizes else None


def figure_png(fig: Figure) -> tuple[str, dict[str, int]]:
    """The figure as a base64 PNG drawn at PIXEL_RATIO times its size, and the metadata that shows it
    at its size (as Jupyter's "retina" format does). The PNG records the figure's smallest text in
    px at that size (TEXT_KEY), so the browser test can tell how large it appears on a page."""
    smallest = smallest_text_pt(fig)
    buffer = io.BytesIO()
    fig.savefig(
        buffer,
        format="png",
        dpi=fig.dpi * PIXEL_RATIO,
        bbox_inches="tight",
        facecolor=fig.get_facecolor(),
        metadata={TEXT_KEY: f"{smallest * fig.dpi / 72:.1f}"} if smallest else None,
    )
    data = buffer.getvalue()
    width, height = struct.unpack(">II", data[16:24])
    shown = {"width": width // PIXEL_RATIO, "height": height // PIXEL_RATIO}
    return base64.b64encode(data).decode("ascii"), shown


def png_text(data: bytes) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt keywords and uncompressed text) of a PNG."""
    chunks, position = {}, 8
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = zlib.decompress(value[1:]).decode("latin-1")
        position += 12 + length
    return chunks


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


def drop_hidden_labels(fig: Figure) -> int:
    """Remove the contour labels that the frame of their axes cuts or that a legend covers (chapter 1).

    Call it last, once the figure's sizes and fonts are final: it draws the figure to measure the
    labels. Only contour labels go (``clabel`` texts, not annotations or titles). Returns how many.
    """
    from matplotlib.text import Annotation

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    removed = 0
    for ax in fig.axes:
        frame = ax.get_window_extent(renderer)
        legend = ax.get_legend()
        covered = [legend.get_window_extent(renderer)] if legend is not None else []
        for text in list(ax.texts):
            if isinstance(text, Annotation) or not text.get_text():
                continue
            box = text.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if not inside or any(box.overlaps(other) for other in covered):
                text.remove()
                removed += 1
    return removed


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
    ax.clabel(cs, fontsize=9, fmt="%.3g")  # 9 pt: the smallest text of the course's figures
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
        ax.legend(loc=legend_loc, fontsize=9, framealpha=0.85, frameon=True)
    if title:
        ax.set_title(title)
    return fig
