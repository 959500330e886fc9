"""Visible checks for chapter 3, "Optimizers" (public, simple cases only)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checking import numpy_only
from . import Question, Verdict, as_array, call, expect_close, fail, validate_answers, visible_check
from ._expected_ch03 import EXPECTED

QUIZ = (
    Question("q1", ("A", "B", "C", "D")),
    Question("q2", ("A", "B", "C", "D")),
    Question("q3", ("A", "B", "C", "D")),
    Question("q4", ("A", "B", "C", "D")),
)


def public_gradients(rng: np.random.Generator, shape: tuple[int, ...], steps: int) -> list[np.ndarray]:
    """Noisy gradients whose mean drifts, with a few exact zeros: a hard case for running averages (public)."""
    drift = rng.normal(size=shape)
    out = []
    for t in range(steps):
        g = drift * math.cos(t / 7) + rng.normal(0, 0.5, size=shape)
        if t % 11 == 3:
            g = np.zeros(shape)
        out.append(g)
    return out


def _path(result: Any, steps: int, shape: tuple[int, ...], name: str) -> np.ndarray:
    got = as_array(result, f"the result of {name}")
    if got.shape != (steps, *shape):
        fail(
            f"{name} should return the weights after every step, an array of shape {(steps, *shape)} "
            f"(steps, *w0.shape); got {got.shape}."
        )
    return got


RMSPROP_SETTINGS = ((0.0, False, 1e-7), (0.9, False, 1e-2), (0.0, True, 1e-7), (0.5, True, 1e-3))
AMSGRAD_SETTINGS = ((0.01, 0.9, 0.999), (0.1, 0.5, 0.99))


def rmsprop_inputs() -> tuple[np.ndarray, list[np.ndarray]]:
    """The public starting weights and 60 gradients of the RMSprop check."""
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(2, 3))
    return w0, public_gradients(rng, (2, 3), 60)


def amsgrad_inputs() -> tuple[np.ndarray, list[np.ndarray]]:
    """The public starting weights and 80 gradients of the AMSGrad check."""
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=5)
    return w0, public_gradients(rng, (5,), 80)


@visible_check("ch03.rmsprop-momentum")
def check_rmsprop_momentum(rmsprop_momentum: Any) -> Verdict:
    """A 2 x 3 matrix, 60 steps, plain / momentum / centred / both, against keras.optimizers.RMSprop."""
    rmsprop_momentum = numpy_only(rmsprop_momentum, "rmsprop_momentum")
    w0, grads = rmsprop_inputs()
    for (momentum, centered, epsilon), keras_path in zip(RMSPROP_SETTINGS, EXPECTED["rmsprop-momentum"]):
        keras_path = np.array(keras_path)
        where = f"momentum={momentum}, centered={centered}, epsilon={epsilon}"
        got = _path(
            call(
                rmsprop_momentum,
                w0.copy(),
                [g.copy() for g in grads],
                0.01,
                0.9,
                momentum,
                epsilon,
                centered,
                what="rmsprop_momentum",
            ),
            60,
            (2, 3),
            "rmsprop_momentum",
        )
        if not np.allclose(got[0], keras_path[0], rtol=1e-5, atol=1e-5):
            fail(
                f"With {where} the very first step differs from Keras: check where epsilon goes (inside the "
                "square root, added to the average) and which average of squared gradients you divide by."
            )
        expect_close(got, keras_path, f"the weights with {where} (compared with keras RMSprop)", rtol=1e-5, atol=1e-5)
    return Verdict(True, "Matches keras.optimizers.RMSprop with and without momentum, centred or not, for 60 steps.")


@visible_check("ch03.amsgrad")
def check_amsgrad(amsgrad: Any) -> Verdict:
    """A vector of 5 weights, 80 steps, two settings, against keras.optimizers.Adam(amsgrad=True)."""
    amsgrad = numpy_only(amsgrad, "amsgrad")
    w0, grads = amsgrad_inputs()
    for (lr, beta_1, beta_2), exp in zip(AMSGRAD_SETTINGS, EXPECTED["amsgrad"]):
        where = f"learning_rate={lr}, beta_1={beta_1}, beta_2={beta_2}"
        got = _path(
            call(amsgrad, w0.copy(), [g.copy() for g in grads], lr, beta_1, beta_2, 1e-7, what="amsgrad"),
            80,
            (5,),
            "amsgrad",
        )
        expected, plain = np.array(exp["amsgrad"]), np.array(exp["adam"])
        if np.allclose(got, plain, rtol=1e-5, atol=1e-5) and not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
            fail(f"With {where} you reproduce plain Adam: AMSGrad divides by the largest second moment so far.")
        if not np.allclose(got[0], expected[0], rtol=1e-5, atol=1e-5):
            fail(
                f"With {where} the first step already differs: after one step Adam moves each weight by about "
                "learning_rate against the gradient's sign. Is the bias correction there, and is epsilon added "
                "outside the square root?"
            )
        expect_close(got, expected, f"the weights with {where} (compared with Keras' AMSGrad)", rtol=1e-5, atol=1e-5)
    return Verdict(True, "Matches keras.optimizers.Adam(amsgrad=True) over 80 steps for two settings.")


WARMUP_PARAMS = {"peak": 0.1, "warmup_steps": 10, "decay_steps": 40, "floor": 0.001}
WARMUP_STEPS = (0, 1, 5, 10, 11, 30, 50, 51, 200)


@visible_check("ch03.warmup-cosine")
def check_warmup_cosine(schedule_class: Any) -> Verdict:
    """peak 0.1, 10 warm-up steps, 40 decay steps, floor 0.001: values, config, tensors, an optimizer."""
    import keras

    if not isinstance(schedule_class, type) or not issubclass(
        schedule_class, keras.optimizers.schedules.LearningRateSchedule
    ):
        fail("WarmupCosine should be a class that subclasses keras.optimizers.schedules.LearningRateSchedule.")
    params, rates = dict(WARMUP_PARAMS), EXPECTED["warmup-cosine"]
    schedule = call(schedule_class, **params, what="WarmupCosine(...)")
    for step, expected in zip(WARMUP_STEPS, rates["at_steps"]):
        value = call(schedule, keras.ops.convert_to_tensor(step, "int64"), what=f"schedule({step})")
        got = float(as_array(value, f"schedule({step})").ravel()[0])
        if not math.isclose(got, expected, rel_tol=1e-5, abs_tol=1e-8):
            stage = "warm-up" if step < 10 else "cosine decay" if step <= 50 else "after the decay"
            fail(f"At step {step} ({stage}) the rate is {got:.6g}, expected {expected:.6g}.")
    config = call(schedule.get_config, what="get_config()")
    if not isinstance(config, dict) or set(config) != set(params):
        fail(f"get_config() should return exactly {sorted(params)}, got {config!r}.")
    again = call(schedule_class.from_config, config, what="from_config(get_config())")
    if not math.isclose(float(again(keras.ops.convert_to_tensor(20, "int64"))), rates["step_20"], rel_tol=1e-5):
        fail("A schedule rebuilt with from_config(get_config()) gives other rates.")
    variable = keras.Variable(np.ones(3, dtype="float32"))
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    for _ in range(12):
        call(optimizer.apply, [keras.ops.ones(3)], [variable], what="SGD(learning_rate=schedule).apply")
    moved = 1.0 - float(variable.numpy()[0])
    expected = rates["sum_first_12"]
    if not math.isclose(moved, expected, rel_tol=1e-4):
        fail("Inside an optimizer the schedule gives other rates: it is called with the step count (a tensor).")
    return Verdict(True, "The right rates at every stage, serializable, and it drives an optimizer.")


@visible_check("ch03.choose-lr")
def check_choose_lr(choose_learning_rate: Any) -> Verdict:
    """Runs the function on 1,000 public images: a positive, finite rate that trains."""
    import keras

    from course_utils.data import load_mnist

    data = load_mnist(train_size=1000, flatten=True, seed=0)

    def make_model() -> Any:
        return keras.Sequential(
            [
                keras.Input((784,)),
                keras.layers.Dense(32, activation="relu"),
                keras.layers.Dense(10, activation="softmax"),
            ]
        )

    value = call(choose_learning_rate, make_model, data.x_train, data.y_train, what="choose_learning_rate")
    try:
        rate = float(value)
    except (TypeError, ValueError):
        fail(f"choose_learning_rate should return one number, got {type(value).__name__}.")
    if not math.isfinite(rate) or rate <= 0:
        fail(f"The rate should be a positive number, got {rate}.")
    if rate >= 5:
        fail(f"{rate:.3g} is where the range test's loss blows up or close to it; step back from there.")
    if rate <= 0.02:
        fail(
            f"{rate:.3g} is small for plain SGD on this model: in one epoch it barely moves. Where does your "
            "range test's loss fall fastest?"
        )
    return Verdict(True, f"A plausible rate ({rate:.3g}); the hidden check trains with it on hidden data.")


@visible_check("ch03.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
