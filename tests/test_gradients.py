"""Tests of course_utils.gradients and of the contour plots it is used with (chapter 1)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils.gradients import relative_error
from course_utils.plots import drop_hidden_labels, grid_values, plot_contours


def test_relative_error_zero_for_equal_and_scale_free():
    a = np.array([1.0, -2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(a, 1.001 * a) == pytest.approx(relative_error(1e6 * a, 1.001e6 * a))
    assert relative_error(a, -a) == pytest.approx(1.0)


def test_relative_error_handles_zeros_and_shapes():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones((2, 2)), np.ones(4)) == 0.0  # compared as flat vectors
    with pytest.raises(ValueError, match="with 3 and 4 values"):
        relative_error(np.ones(3), np.ones(4))


def test_grid_values_shape_and_values():
    X, Y, Z = grid_values(lambda x, y: x + 10 * y, (0, 1), (0, 2), n=5)
    assert X.shape == Y.shape == Z.shape == (5, 5)
    assert Z[0, 0] == 0 and Z[-1, -1] == pytest.approx(21.0)


def test_plot_contours_draws_paths_and_labels():
    path = np.array([[1.0, 1.0], [0.5, 0.2], [0.0, 0.0]])
    fig = plot_contours(lambda x, y: x**2 + y**2, (-2, 2), (-2, 2), paths=[path], labels=["lr 0.5"], title="bowl")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "$x_1$" and ax.get_title() == "bowl"
    assert ax.get_legend() is not None
    assert any(np.allclose(line.get_xdata(), path[:, 0]) for line in ax.get_lines())
    plt.close(fig)


def test_plot_contours_rejects_bad_path():
    with pytest.raises(ValueError, match=r"must have shape \(steps, 2\)"):
        plot_contours(lambda x, y: x + y, (0, 1), (0, 1), paths=[np.zeros((3, 3))])
    plt.close("all")


def test_gradient_norms_matches_hand_computation():
    pytest.importorskip("tensorflow")
    from course_utils.runtime import import_tensorflow

    import_tensorflow()
    import keras

    from course_utils.gradients import gradient_norms

    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")]
    )
    x = np.array([[1.0, 2.0]], dtype="float32")
    y = np.array([[0.0]], dtype="float32")
    # MSE: loss = (w.x)^2 = 9, d loss / d w = 2 * 3 * x = [6, 12]
    norms = gradient_norms(model, x, y, keras.losses.MeanSquaredError())
    assert list(norms.values()) == [pytest.approx(np.hypot(6.0, 12.0), rel=1e-5)]
    both = gradient_norms(model, x, y, keras.losses.MeanSquaredError(), kernels_only=False)
    assert len(both) == 2 and pytest.approx(6.0, rel=1e-5) in list(both.values())


def test_drop_hidden_labels_removes_cut_and_covered_contour_labels():
    import matplotlib.pyplot as plt

    fig = plot_contours(lambda x, y: x**2 + y**2, (-2, 2), (-2, 2), levels=[0.5, 2, 8])
    ax = fig.axes[0]
    cut = ax.text(2.0, 0.0, "cut")  # half outside the frame
    inside = ax.text(0.0, 0.0, "in")
    step = ax.annotate("7", (1.99, 1.99))  # annotations (step numbers) stay
    drop_hidden_labels(fig)
    assert cut not in ax.texts and inside in ax.texts and step in ax.texts
    plt.close(fig)
