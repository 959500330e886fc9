"""The from-scratch update rules follow keras.optimizers step for step; the range test (chapter 3)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils import optimizers as O  # noqa: E402

A = np.diag([1.0, 10.0, 0.1, 3.0])
W0 = np.array([1.0, -2.0, 0.5, 0.3])


def grad(w):
    return A @ w + 0.3 * np.sin(w)


CASES = {
    "sgd": (lambda: O.SGD(0.05), lambda: keras.optimizers.SGD(0.05), 0),
    "momentum": (lambda: O.Momentum(0.05, 0.9), lambda: keras.optimizers.SGD(0.05, momentum=0.9), 1),
    "nesterov": (
        lambda: O.Momentum(0.05, 0.8, nesterov=True),
        lambda: keras.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
        1,
    ),
    "adagrad": (lambda: O.Adagrad(0.1), lambda: keras.optimizers.Adagrad(0.1), 1),
    "rmsprop": (lambda: O.RMSprop(0.01, rho=0.8), lambda: keras.optimizers.RMSprop(0.01, rho=0.8), 1),
    "adam": (lambda: O.Adam(0.01, beta_1=0.8), lambda: keras.optimizers.Adam(0.01, beta_1=0.8), 2),
    "nadam": (lambda: O.Nadam(0.01), lambda: keras.optimizers.Nadam(0.01), 2),
    "adamw": (
        lambda: O.AdamW(0.01, weight_decay=0.1),
        lambda: keras.optimizers.AdamW(0.01, weight_decay=0.1),
        2,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule_matches_keras_over_many_steps(name):
    make_rule, make_keras, _ = CASES[name]
    assert O.compare_with_keras(make_rule(), make_keras(), grad, W0, steps=120) < 1e-7


@pytest.mark.parametrize("name", list(CASES))
def test_slots_per_parameter(name):
    make_rule, make_keras, slots = CASES[name]
    assert O.keras_slots_per_parameter(make_keras(), n=50) == slots
    rule = make_rule()
    rule.step(W0, grad(W0))
    assert len(rule.state) == slots


def test_a_wrong_rule_is_caught():
    assert O.compare_with_keras(O.RMSprop(0.01, rho=0.5), keras.optimizers.RMSprop(0.01), grad, W0, 20) > 1e-4


def test_run_rule_stops_at_tolerance_and_on_blow_up():
    path, reached = O.run_rule(O.SGD(0.1), lambda w: 2 * w, [1.0, 1.0], 500, lambda w: np.linalg.norm(w) < 1e-3)
    assert reached is not None and len(path) == reached + 1 and np.linalg.norm(path[-1]) < 1e-3
    path, reached = O.run_rule(O.SGD(2.0), lambda w: 2 * w, [1.0, 1.0], 500, lambda w: False)
    assert reached is None and np.all(np.isfinite(path)) and len(path) < 500


def test_smooth_is_bias_corrected():
    assert np.allclose(O.smooth([2.0, 2.0, 2.0]), 2.0)


def test_lr_range_test_rises_then_stops_on_divergence():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    rates, losses = O.lr_range_test(model, x, y, lambda lr: keras.optimizers.SGD(lr), 1e-3, 1e4, steps=80)
    assert len(rates) == len(losses) and np.all(np.diff(rates) > 0)
    assert losses.min() < losses[0]  # the loss falls at moderate rates
    assert len(losses) < 80  # and the test stops once it blows up
    with pytest.raises(ValueError):
        O.lr_range_test(model, x, y, lambda lr: keras.optimizers.SGD(lr), 1.0, 0.1)
