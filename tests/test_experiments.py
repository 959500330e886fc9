"""Tests of course_utils.experiments and course_utils.regularization (chapter 4's helpers)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from course_utils import experiments as ex
from course_utils import regularization as reg


def test_summarize_gives_mean_sample_std_and_range_in_order():
    rows = ex.summarize({"b": [0.9, 0.8, 1.0], "a": [0.5]})
    assert [r.name for r in rows] == ["b", "a"]
    b = rows[0]
    assert b.n == 3 and b.mean == pytest.approx(0.9) and b.std == pytest.approx(0.1)
    assert (b.low, b.high) == (0.8, 1.0)
    assert rows[1].std == 0.0


def test_summarize_refuses_an_empty_setting():
    with pytest.raises(ValueError, match="no results"):
        ex.summarize({"x": []})


def test_format_table_sorts_by_mean_and_fits_the_column():
    rows = ex.summarize({"none": [0.90, 0.91, 0.89], "augmentation": [0.93, 0.92, 0.94]})
    table = ex.format_table(rows, label="method")
    lines = table.splitlines()
    assert lines[0].startswith("method") and "std %" in lines[0]
    assert lines[2].startswith("augmentation") and lines[3].startswith("none")
    assert "93.0" in lines[2] and "92.0 - 94.0" in lines[2]
    assert max(len(line) for line in lines) <= 88
    plain = ex.format_table(rows, percent=False)
    assert "0.9" in plain and "%" not in plain
    with pytest.raises(ValueError, match="40 characters"):
        ex.format_table(ex.summarize({"x" * 41: [1.0]}))


def test_near_zero_fraction_and_final_gap_and_best_epoch():
    assert reg.near_zero_fraction(np.array([0.0, 1e-4, -5e-4, 0.1])) == 0.75
    assert reg.near_zero_fraction(np.array([[0.0, 0.2]]), threshold=0.1) == 0.5
    with pytest.raises(ValueError):
        reg.near_zero_fraction(np.array([]))
    history = {"accuracy": [0.5, 0.9, 1.0, 1.0], "val_accuracy": [0.5, 0.8, 0.8, 0.9], "val_loss": [1, 0.5, 0.7, 0.9]}
    assert reg.final_gap(history, last=2) == pytest.approx(0.15)
    assert reg.best_epoch(history) == 2
    assert reg.best_epoch(history, "val_accuracy", mode="max") == 4
    with pytest.raises(KeyError):
        reg.final_gap(history, "loss")
    with pytest.raises(ValueError):
        reg.best_epoch(history, mode="up")


def test_weight_histograms_have_one_labelled_panel_per_model():
    rng = np.random.default_rng(0)
    fig = reg.plot_weight_histograms({"none": rng.normal(0, 0.1, 500), "L1": np.zeros(500)}, limit=0.3)
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["none", "L1"]
    assert fig.axes[0].get_yscale() == "log" and fig.axes[0].get_xlabel() == "weight value"
    assert "100%" in fig.axes[1].texts[0].get_text()
    with pytest.raises(ValueError):
        reg.plot_weight_histograms({})


def test_curve_panels_share_axes_and_refuse_missing_curves():
    h = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]}
    fig = reg.plot_curve_panels({"a": h, "b": h}, "loss", ylabel="cross-entropy")
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "cross-entropy"
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["training", "validation"]
    with pytest.raises(KeyError, match="val_accuracy"):
        reg.plot_curve_panels({"a": h}, "accuracy")


@pytest.fixture(scope="module")
def keras_module():
    keras = pytest.importorskip("keras")
    from course_utils.runtime import import_tensorflow

    import_tensorflow()
    return keras


def _blobs(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    return (np.eye(3, 4)[y] * 4 + rng.normal(size=(n, 4))).astype("float32"), y


def _model(keras, regularized: bool = False):
    keras.utils.set_random_seed(1)
    penalty = keras.regularizers.L2(0.1) if regularized else None
    return keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax", kernel_regularizer=penalty)]
    )


def test_train_curves_takes_the_same_step_as_fit(keras_module):
    """One full-batch epoch with plain SGD: the same weights and the same loss as model.fit."""
    keras = keras_module
    x, y = _blobs()
    ours = _model(keras, regularized=True)
    curves = ex.train_curves(
        ours, x, y, x[:10], y[:10], epochs=1, batch_size=len(x), optimizer=keras.optimizers.SGD(0.5)
    )
    theirs = _model(keras, regularized=True)
    theirs.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    history = theirs.fit(x, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert curves["loss"][0] == pytest.approx(history.history["loss"][0], rel=1e-5)
    assert set(curves) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_train_curves_learns_and_reports_every_epoch(keras_module):
    keras = keras_module
    x, y = _blobs(90)
    curves = ex.train_curves(_model(keras), x, y, x, y, epochs=20, batch_size=32, optimizer=keras.optimizers.Adam(0.05))
    assert all(len(v) == 20 for v in curves.values())
    assert curves["loss"][-1] < curves["loss"][0] and curves["val_accuracy"][-1] > 0.8
    assert ex.accuracy_of(_model(keras), x, y) < 1.0
    with pytest.raises(ValueError):
        ex.train_curves(_model(keras), x, y, x, y, epochs=0)


def test_run_seeds_seeds_every_run(keras_module):
    keras = keras_module

    def draw(seed: int) -> float:
        return float(keras.random.uniform(()).numpy())

    first, second = ex.run_seeds(draw, [3, 4]), ex.run_seeds(draw, [3, 4])
    assert first == second and first[0] != first[1]


def test_kernel_weights_leaves_out_biases(keras_module):
    keras = keras_module
    model = _model(keras)
    assert reg.kernel_weights(model).shape == (12,)
    empty = keras.Sequential([keras.Input((2,)), keras.layers.Activation("relu")])
    with pytest.raises(ValueError, match="no kernel"):
        reg.kernel_weights(empty)


def test_seed_interval_is_the_t_interval_of_the_mean_per_column():
    values = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]])
    mean, low, high = reg.seed_interval(values)
    assert mean == pytest.approx([2.0, 10.0])
    # t_{0.975, 2} = 4.3027; sd = 1; n = 3
    assert high[0] - mean[0] == pytest.approx(4.3027 / np.sqrt(3), rel=1e-4)
    assert low[1] == high[1] == 10.0
    with pytest.raises(ValueError):
        reg.seed_interval([[1.0, 2.0]])
