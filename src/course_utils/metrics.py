"""Metrics that Keras does not ship: calibration and the rates of a binary classifier (chapter 2).

Accuracy says how often the top class is right; it says nothing about whether a predicted
probability of 0.9 is right nine times out of ten (calibration), and on an imbalanced task it
hides how many positives were missed (recall). Everything here is plain NumPy, so later
chapters (regularization, label smoothing, optimizers) can reuse it on any model's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ReliabilityBins:
    """Per confidence bin: the mean confidence, the accuracy and the number of examples (chapter 2)."""

    edges: np.ndarray  # n_bins + 1 bin edges on [0, 1]
    confidence: np.ndarray  # mean top-class probability per bin (NaN for an empty bin)
    accuracy: np.ndarray  # fraction of correct top-class predictions per bin (NaN for an empty bin)
    counts: np.ndarray  # examples per bin


def as_class_probabilities(probs: Any) -> np.ndarray:
    """(n, k) class probabilities; a binary model's (n,) or (n, 1) P(class 1) becomes (n, 2) (chapter 2)."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p[:, 0]
    if p.ndim == 1:
        p = np.stack([1.0 - p, p], axis=1)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"Expected probabilities of shape (n, k), (n, 1) or (n,), got {np.shape(probs)}.")
    if np.any(p < -1e-6) or np.any(p > 1 + 1e-6):
        raise ValueError("Probabilities must lie in [0, 1]: pass softmax or sigmoid outputs, not logits.")
    return p


def reliability_bins(probs: Any, labels: Any, n_bins: int = 10) -> ReliabilityBins:
    """Group predictions by top-class confidence into equal-width bins (m-1)/M < c <= m/M (chapter 2).

    A calibrated model's accuracy in every bin equals its mean confidence there; the reliability
    diagram plots one against the other {Guo et al. 2017}.
    """
    p = as_class_probabilities(probs)
    y = np.asarray(labels).astype(int).ravel()
    if y.shape[0] != p.shape[0]:
        raise ValueError(f"{p.shape[0]} predictions but {y.shape[0]} labels.")
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1.")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=conf, minlength=n_bins) / counts
        accuracy = np.bincount(index, weights=correct, minlength=n_bins) / counts
    return ReliabilityBins(edges, mean_conf, accuracy, counts)


def expected_calibration_error(probs: Any, labels: Any, n_bins: int = 10) -> float:
    """ECE = sum over bins of (bin size / n) * |accuracy - confidence|; 0 for a calibrated model (chapter 2)."""
    bins = reliability_bins(probs, labels, n_bins)
    filled = bins.counts > 0
    weights = bins.counts[filled] / bins.counts.sum()
    return float(np.sum(weights * np.abs(bins.accuracy[filled] - bins.confidence[filled])))


def binary_rates(y_true: Any, y_pred: Any) -> dict[str, float]:
    """Accuracy, precision and recall of 0/1 predictions, positives being 1 (chapter 2).

    Precision is the fraction of predicted positives that are positive, recall the fraction of
    positives that were found; precision is 0.0 when nothing is predicted positive.
    """
    t = np.asarray(y_true).astype(bool).ravel()
    p = np.asarray(y_pred).astype(bool).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in length: {t.shape} vs {p.shape}.")
    tp = float(np.sum(t & p))
    return {
        "accuracy": float(np.mean(t == p)),
        "precision": tp / max(float(p.sum()), 1.0),
        "recall": tp / max(float(t.sum()), 1.0),
    }


def precision_recall_curve(y_true: Any, scores: Any) -> dict[str, np.ndarray]:
    """Precision and recall of "positive when score >= threshold" for every distinct score (chapter 2).

    Returns ``threshold`` (the distinct scores, highest first), and ``precision`` and ``recall`` at
    each, so that lowering the threshold walks the curve from few, sure alarms to every positive
    found. Positives are the 1s of y_true; it needs at least one.
    """
    t = np.asarray(y_true).astype(bool).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if t.shape != s.shape:
        raise ValueError(f"y_true and scores differ in length: {t.shape} vs {s.shape}.")
    if not t.any():
        raise ValueError("y_true has no positive example: recall is undefined.")
    if not np.all(np.isfinite(s)):
        raise ValueError("The scores contain NaN or infinite values.")
    order = np.argsort(-s, kind="stable")
    s_sorted, t_sorted = s[order], t[order]
    true_pos = np.cumsum(t_sorted)
    flagged = np.arange(1, s.size + 1)
    last = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s.size - 1]  # the last row of every distinct score
    return {
        "threshold": s_sorted[last],
        "precision": true_pos[last] / flagged[last],
        "recall": true_pos[last] / t.sum(),
    }


def threshold_for_recall(y_true: Any, scores: Any, recall: float) -> float:
    """The highest threshold whose recall ("positive when score >= threshold") reaches ``recall`` (chapter 2).

    Choose it on validation data, then apply it unchanged to new data: the recall there is only
    expected, not guaranteed, to be near the target.
    """
    if not 0.0 < recall <= 1.0:
        raise ValueError(f"recall must lie in (0, 1], got {recall}.")
    curve = precision_recall_curve(y_true, scores)
    reached = np.flatnonzero(curve["recall"] >= recall - 1e-12)
    return float(curve["threshold"][reached[0]])


def plot_reliability(
    results: Mapping[str, tuple[Any, Any]],
    n_bins: int = 10,
    title: str | None = None,
    width: float = 7.0,
) -> Any:
    """Reliability diagrams side by side, one column per model, with the bins' counts below (chapter 2).

    results -- {name: (probabilities, labels)}; each panel's title carries the model's ECE.
    width   -- of the whole figure in inches (7: the text column of the book)
    Top row: accuracy in each confidence bin against the diagonal; bars below it mean
    over-confidence, bars above it under-confidence. Bottom row: how many predictions fall in each
    bin (log scale), so that a bar resting on a handful of predictions is seen as such.
    """
    import matplotlib.pyplot as plt

    from .plots import TRAIN_COLOR, VAL_COLOR

    fig, axes = plt.subplots(
        2,
        len(results),
        figsize=(width, 4.6),
        squeeze=False,
        sharex=True,
        sharey="row",
        gridspec_kw={"height_ratios": [3, 1.3]},
    )
    for column, (name, (probs, labels)) in enumerate(results.items()):
        ax, strip = axes[0][column], axes[1][column]
        bins = reliability_bins(probs, labels, n_bins)
        ece = expected_calibration_error(probs, labels, n_bins)
        centers = (bins.edges[:-1] + bins.edges[1:]) / 2
        width_bar = 0.9 / n_bins
        filled = bins.counts > 0
        ax.bar(
            centers[filled],
            bins.accuracy[filled],
            width=width_bar,
            color=TRAIN_COLOR,
            alpha=0.8,
            label="accuracy in bin",
        )
        ax.plot(bins.confidence[filled], bins.confidence[filled], "o", color=VAL_COLOR, ms=4, label="mean confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{name}\nECE {ece:.3f}")
        strip.bar(centers[filled], bins.counts[filled], width=width_bar, color="0.45")
        strip.set_yscale("log")
        strip.set_xlabel("confidence")
    axes[0][0].set_ylabel("accuracy")
    axes[1][0].set_ylabel("count")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=3, bbox_to_anchor=(0.5, 0.0))
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
