"""Tests of course_utils.metrics (calibration, binary rates) and course_utils.experiments (seeds)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_utils import experiments, metrics


def test_ece_is_zero_for_a_calibrated_model_and_the_gap_for_an_overconfident_one():
    # 10 predictions at confidence 0.8 of which 8 are right: calibrated
    probs = np.tile([[0.8, 0.2]], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)
    assert metrics.expected_calibration_error(probs, labels) == pytest.approx(0.0)
    # all ten right at confidence 0.8: under-confident by 0.2
    assert metrics.expected_calibration_error(probs, np.zeros(10)) == pytest.approx(0.2)


def test_ece_weights_bins_by_their_size():
    probs = np.array([[0.95, 0.05]] * 3 + [[0.55, 0.45]])
    labels = np.array([0, 0, 1, 1])  # bin (0.9, 1]: acc 2/3 vs conf .95; bin (0.5, 0.6]: acc 0 vs .55
    expected = 3 / 4 * abs(2 / 3 - 0.95) + 1 / 4 * 0.55
    assert metrics.expected_calibration_error(probs, labels) == pytest.approx(expected)


def test_reliability_bins_edges_counts_and_binary_input():
    bins = metrics.reliability_bins(np.array([0.9, 0.2, 1.0, 0.5]), np.array([1, 0, 1, 0]), n_bins=5)
    # binary P(class 1) -> top-class confidence 0.9, 0.8, 1.0, 0.5 (0.5 is a tie: class 0 wins)
    assert bins.counts.tolist() == [0, 0, 1, 1, 2]
    assert np.isnan(bins.accuracy[0]) and bins.accuracy[4] == 1.0
    assert bins.confidence[4] == pytest.approx(0.95)
    assert metrics.as_class_probabilities(np.array([[0.3]])).tolist() == [[0.7, 0.3]]


def test_reliability_rejects_logits_and_mismatched_labels():
    with pytest.raises(ValueError, match="logits"):
        metrics.reliability_bins(np.array([[2.0, -1.0]]), [0])
    with pytest.raises(ValueError, match="labels"):
        metrics.reliability_bins(np.array([[0.5, 0.5]]), [0, 1])


def test_binary_rates():
    rates = metrics.binary_rates([1, 1, 0, 0, 0], [1, 0, 1, 0, 0])
    assert rates == {"accuracy": 0.6, "precision": 0.5, "recall": 0.5}
    assert metrics.binary_rates([1, 0], [0, 0])["precision"] == 0.0
    with pytest.raises(ValueError):
        metrics.binary_rates([1, 0], [1])


def test_plot_reliability_has_a_panel_per_model_with_its_ece():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=50)
    fig = metrics.plot_reliability({"a": (p, rng.integers(0, 3, 50)), "b": (p, p.argmax(1))})
    top, strip = fig.axes[:2], fig.axes[2:]
    assert len(fig.axes) == 4 and all("ECE" in ax.get_title() for ax in top)
    assert top[0].get_ylabel() == "accuracy" and strip[0].get_ylabel() == "count"
    assert all(ax.get_xlabel() for ax in strip) and strip[0].get_yscale() == "log"
    # the strip shows how many predictions each bin holds
    bins = metrics.reliability_bins(p, rng.integers(0, 3, 50))
    heights = sorted(bar.get_height() for bar in strip[0].patches)
    assert heights == sorted(bins.counts[bins.counts > 0].tolist())
    assert fig.get_size_inches()[0] <= 7.0
    plt.close(fig)


def test_precision_recall_curve_walks_from_sure_alarms_to_every_positive():
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.7, 0.4, 0.3, 0.2, 0.1])
    curve = metrics.precision_recall_curve(y, s)
    assert curve["threshold"].tolist() == [0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1]  # ties merged
    assert np.allclose(curve["recall"], [0.25, 0.25, 0.75, 0.75, 0.75, 1.0, 1.0])
    assert np.allclose(curve["precision"], [1.0, 0.5, 0.75, 0.6, 0.5, 4 / 7, 0.5])
    for t, p, r in zip(curve["threshold"], curve["precision"], curve["recall"]):
        rates = metrics.binary_rates(y, s >= t)  # the same rule as binary_rates
        assert np.isclose(rates["precision"], p) and np.isclose(rates["recall"], r)
    with pytest.raises(ValueError, match="positive"):
        metrics.precision_recall_curve([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="length"):
        metrics.precision_recall_curve([0, 1], [0.1])
    with pytest.raises(ValueError, match="NaN"):
        metrics.precision_recall_curve([0, 1], [0.1, np.nan])


def test_threshold_for_recall_is_the_highest_that_reaches_it():
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.7, 0.4, 0.3, 0.2, 0.1])
    assert metrics.threshold_for_recall(y, s, 0.5) == 0.7
    assert metrics.threshold_for_recall(y, s, 0.75) == 0.7
    assert metrics.threshold_for_recall(y, s, 0.8) == 0.2
    assert metrics.threshold_for_recall(y, s, 1.0) == 0.2
    assert metrics.binary_rates(y, s >= 0.2)["recall"] == 1.0
    with pytest.raises(ValueError, match="recall"):
        metrics.threshold_for_recall(y, s, 0.0)


def test_over_seeds_stacks_results_and_checks_their_keys():
    out = experiments.over_seeds(lambda s: {"acc": 0.9 + s / 100, "curve": [s, s + 1]}, [0, 1, 2])
    assert out["acc"].tolist() == pytest.approx([0.9, 0.91, 0.92])
    assert out["curve"].shape == (3, 2)
    with pytest.raises(ValueError, match="returned"):
        experiments.over_seeds(lambda s: {"a": 1} if s == 0 else {"b": 1}, [0, 1])
    with pytest.raises(ValueError):
        experiments.over_seeds(lambda s: {}, [])


def test_spread_text():
    assert experiments.spread_text([0.9, 0.92, 0.94], digits=2) == "0.92 ± 0.02 (0.90 to 0.94)"
