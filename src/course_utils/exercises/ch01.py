"""Visible checks for chapter 1, part 1, "Gradients and backpropagation" (public, simple cases only).

Part 2's exercises (ch01b.*) have their own module, ``course_utils.exercises.ch01b``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checking import numpy_only
from . import Question, Verdict, as_array, call, expect_close, fail, validate_answers, visible_check
from ._expected_ch01 import EXPECTED

QUIZ = (
    Question("q1"),
    Question("q2", ("A", "B", "C", "D")),
    Question("q3", ("A", "B", "C", "D")),
    Question("q4"),
    Question("q5", ("A", "B", "C", "D")),
)


def _sum_of_squares(x: np.ndarray) -> float:
    return float(np.sum(np.asarray(x) ** 2))


def _wiggle(x: np.ndarray) -> float:
    return float(np.sum(np.sin(1000.0 * np.asarray(x, dtype=float))))


def _sum_of_cubes(x: np.ndarray) -> float:
    return float(np.sum(np.asarray(x) ** 3))


def _flat_square(x: np.ndarray) -> np.ndarray:
    return (np.asarray(x) ** 2).ravel()


@visible_check("ch01.central-difference")
def check_central_difference(central_difference: Any) -> Verdict:
    """f(x) = sum(x**2) has gradient 2x; f(x) = sum(x**3) tells the schemes and steps apart."""
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]])
    x_copy = x.copy()
    got = as_array(call(central_difference, _sum_of_squares, x, what="central_difference"), "central_difference(f, x)")
    if not np.array_equal(x, x_copy):
        fail(
            "central_difference changed the caller's x: work on a copy (x.copy()) or restore "
            "every entry after nudging it."
        )
    if got.shape != x.shape:
        fail(
            f"The result has shape {got.shape}, expected {x.shape}: one partial derivative per "
            "entry of x, in an array shaped like x."
        )
    if np.allclose(got, 4 * x, rtol=1e-4):
        fail("The result is twice the gradient: the central difference divides by 2h, not h.")
    if np.allclose(got, x, rtol=1e-4):
        fail("The result is half the gradient: the central difference divides by 2h, not 4h.")
    if np.allclose(got, -2 * x, rtol=1e-4, atol=1e-6):
        fail("The result has the wrong sign: compute (f(x + h e) - f(x - h e)) / (2h).")
    if np.allclose(got, 2 * x + 1e-5, rtol=1e-6, atol=1e-8) and not np.allclose(got, 2 * x, atol=1e-8):
        fail(
            "The result is off by about h: that is the forward difference (f(x + h e) - f(x)) / h. "
            "Use f(x + h e) and f(x - h e)."
        )
    expect_close(got, 2 * x, "central_difference(sum(x**2), x)", rtol=1e-6, atol=1e-6)

    # for sum(x**3) the central difference is exactly 3 x**2 + h**2: the step must be used
    v = np.array([1.0, 2.0, -1.0])
    h = 0.1
    got = as_array(
        call(central_difference, _sum_of_cubes, v, h, what="central_difference"), "central_difference(f, x, h)"
    )
    if got.shape == v.shape and np.allclose(got, 3 * v**2, atol=1e-4):
        fail(
            "With h=0.1 the result equals the exact derivative: is the argument h ignored? Use the step you are given."
        )
    if got.shape == v.shape and np.allclose(got, 3 * v**2 + 3 * v * h + h**2, atol=1e-8):
        fail("The result matches the forward difference (f(x + h e) - f(x)) / h; use the central one.")
    expect_close(got, 3 * v**2 + h**2, "central_difference(sum(x**3), x, h=0.1)", rtol=1e-8, atol=1e-8)
    # sum(sin(1000 x)) without h: the central difference is 1000 cos(1000 x) sin(1000 h) / (1000 h),
    # which tells h = 1e-5 from 1e-4 and from 1e-6 (relative differences 1.6e-3 and 1.6e-5)
    got = as_array(call(central_difference, _wiggle, v, what="central_difference"), "central_difference(f, x)")
    step = 1e-5
    if got.shape == v.shape and not np.allclose(
        got, 1000 * np.cos(1000 * v) * np.sin(1000 * step) / (1000 * step), rtol=1e-8, atol=1e-8
    ):
        fail(
            "Called without h on sum(sin(1000 x)), the result is not the central difference with h = 1e-5: "
            "is the default step h=1e-5, as the exercise asks?"
        )

    # a vector-valued f: the elementwise square of a 2 x 2 matrix, flattened to 4 outputs
    m = np.array([[1.0, -2.0], [0.5, 3.0]])
    got = as_array(
        call(central_difference, _flat_square, m.copy(), 1e-5, what="central_difference"),
        "central_difference(f, x) for a vector-valued f",
    )
    if got.shape != (4, 2, 2):
        fail(
            f"For f(x) with 4 outputs and x of shape (2, 2) the result has shape {got.shape}, expected "
            "(4, 2, 2): the shape of f(x), then the shape of x, one partial derivative per pair."
        )
    expected = (2 * m.ravel())[:, None] * np.eye(4)
    if np.allclose(got.reshape(4, 4), expected.T, atol=1e-6) and not np.allclose(expected, expected.T):
        fail("The Jacobian is transposed: entry [i, j] is the derivative of output i with respect to input j.")
    expect_close(got, expected.reshape(4, 2, 2), "the Jacobian of the elementwise square", rtol=1e-6, atol=1e-6)
    return Verdict(True, "Correct on the three public examples (a matrix input, an explicit step h, a vector f).")


BRIER_GRAD_CASES = (
    (np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0], [-2.0, 0.0, 1.0]]), np.array([0, 2, 0]), 0.1),
    (
        np.array([[1000.0, 999.0, 997.0], [-5.0, 700.0, 701.5], [20000.4, 19999.2, 20001.3]]),
        np.array([1, 2, 0]),
        0.2,
    ),
)
BRIER_TIME_LIMIT = 20.0  # seconds per call: a vectorized answer needs about a second on a slow machine


def brier_big_case() -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """A batch of 1,024 examples over 2,048 classes, a few rows with logits in the hundreds, and a
    fixed random matrix: the check compares the sum of the gradient times it (and a corner)."""
    rng = np.random.default_rng(2024)
    logits = 4.0 * rng.normal(size=(1024, 2048))
    logits[::97] *= 200.0
    labels = rng.integers(0, 2048, size=1024)
    return logits, labels, 0.05, rng.normal(size=(1024, 2048))


def _brier_slow(name: str) -> str:
    return (
        f"{name} did not finish within {BRIER_TIME_LIMIT:g} s on a batch of 1,024 examples over 2,048 "
        "classes. A numerical derivative per entry (finite differences or a complex step) needs millions "
        "of evaluations of the loss here, and a c x c Jacobian per example is slow too: compute the "
        "gradient from its formula, with whole-array NumPy operations."
    )


@visible_check("ch01.brier-grad")
def check_brier_grad(brier_score_grad: Any) -> Verdict:
    """Compared with tf.GradientTape on three examples (smoothing 0.1 and 0), logits too large for a naive
    exp, then a batch of 1,024 x 2,048 logits within a time limit.

    Passing here is no proof that the function is NumPy only: this check refuses TensorFlow and
    Keras in the notebook's own process, but code can reach them elsewhere (another process, say).
    The hidden check runs the function again in a fresh kernel in which no framework can be imported.
    """
    name = "brier_score_grad"
    watched = numpy_only(brier_score_grad, name, time_limit=BRIER_TIME_LIMIT)

    def in_time(*args: Any) -> Any:
        try:
            return watched(*args)
        except TimeoutError:
            fail(_brier_slow(name))

    if brier_score_grad is None or brier_score_grad is Ellipsis or not callable(brier_score_grad):
        call(brier_score_grad, what=name)  # fails with the usual message
    (logits, labels, smoothing), (big, big_labels, big_smoothing) = BRIER_GRAD_CASES
    small, large, stored_big = EXPECTED["brier-grad"]
    expected = np.array(small["grad"])
    got = as_array(call(in_time, logits.copy(), labels.copy(), smoothing, what=name), "the gradient")
    same = got.shape == expected.shape
    if same and np.allclose(got, np.array(small["xent"]), atol=1e-9):
        fail(
            "That is the gradient of the cross-entropy, (p - q) / n, not of the squared error between the "
            "probabilities and the target."
        )
    if same and np.allclose(got, np.array(small["wrt_probs"]), atol=1e-9):
        fail(
            "That is the gradient with respect to the probabilities p. The exercise asks for the logits z: "
            "multiply by the derivative of softmax, through which every logit moves every probability."
        )
    if same and np.allclose(got, np.array(small["diagonal_only"]), atol=1e-9):
        fail(
            "Only the diagonal of the softmax derivative is used: raising z_k also lowers every other "
            "probability of the row (they sum to 1), and those terms belong in the sum too."
        )
    for factor, hint in [
        (3.0, "The gradient is 3 times too large for a batch of 3: the loss is the mean over the batch."),
        (0.5, "The gradient is half the right one: the derivative of a square (p - q)^2 is 2 (p - q)."),
        (-1.0, "The gradient has the wrong sign: the loss grows with (p - q)^2, so differentiate it as written."),
    ]:
        if same and np.allclose(got, factor * expected, atol=1e-12):
            fail(hint)
    unsmoothed = as_array(call(in_time, logits.copy(), labels.copy(), 0.0, what=name), "the gradient with smoothing 0")
    if got.shape == unsmoothed.shape and np.allclose(got, unsmoothed, atol=1e-12):
        fail(
            "The result is the same for smoothing 0.1 and smoothing 0: the argument smoothing is ignored. "
            "Which target does the loss compare the probabilities with?"
        )
    expect_close(
        got, expected, "the gradient with smoothing 0.1 (compared with tf.GradientTape)", rtol=1e-9, atol=1e-12
    )
    expect_close(unsmoothed, np.array(small["grad_unsmoothed"]), "the gradient with smoothing 0", rtol=1e-9, atol=1e-12)

    with np.errstate(all="ignore"):
        got = as_array(call(in_time, big.copy(), big_labels.copy(), big_smoothing, what=name), "the gradient")
    if not np.all(np.isfinite(got)):
        fail(
            "With logits around 1000 and 20,000 the result contains NaN or inf: np.exp overflows (in "
            "float64 above about 709, in np.longdouble above about 11356). Subtract each row's maximum "
            "first; the probabilities do not change."
        )
    expect_close(got, np.array(large["grad"]), "the gradient for large logits", rtol=1e-9, atol=1e-12)

    logits, labels, smoothing, weights = brier_big_case()
    with np.errstate(all="ignore"):
        got = as_array(call(in_time, logits.copy(), labels.copy(), smoothing, what=name), "the gradient")
    if got.shape != logits.shape:
        fail(f"For logits of shape {logits.shape} the gradient has shape {got.shape}: one entry per logit.")
    if not np.all(np.isfinite(got)):
        fail("On the large batch the result contains NaN or inf (some of its logits are in the hundreds).")
    expect_close(got[1:3, :4], np.array(stored_big["corner"]), "the gradient on the large batch", rtol=1e-9, atol=1e-15)
    expect_close(float(np.sum(got * weights)), stored_big["weighted_sum"], "the gradient on the large batch", rtol=1e-9)
    return Verdict(
        True,
        "Matches tf.GradientTape with and without smoothing, stays finite for large logits and is fast on a "
        "large batch. (This check cannot prove that no framework ran; the hidden check runs your function "
        "where none can be imported.)",
    )


@visible_check("ch01.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
