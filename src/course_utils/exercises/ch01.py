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


XENT_GRAD_CASES = (
    (np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0], [-2.0, 0.0, 1.0]]), np.array([0, 2, 0]), 0.1),
    (np.array([[1000.0, 0.0, -1000.0], [-5.0, 700.0, 710.0]]), np.array([1, 2]), 0.2),
)


@visible_check("ch01.softmax-xent-grad")
def check_softmax_xent_grad(softmax_cross_entropy_grad: Any) -> Verdict:
    """Compared with tf.GradientTape on three examples (smoothing 0.1), then on logits too large for a naive exp.

    Passing here is no proof that the function is NumPy only: this check refuses TensorFlow and
    Keras in the notebook's own process, but code can reach them elsewhere (another process, say).
    The hidden check runs the function again in a fresh kernel in which no framework can be imported.
    """
    softmax_cross_entropy_grad = numpy_only(softmax_cross_entropy_grad, "softmax_cross_entropy_grad")
    (logits, labels, smoothing), (big, big_labels, big_smoothing) = XENT_GRAD_CASES
    stored = EXPECTED["softmax-xent-grad"]
    expected, expected_big = (np.array(e["grad"]) for e in stored)
    got = as_array(
        call(softmax_cross_entropy_grad, logits.copy(), labels.copy(), smoothing, what="softmax_cross_entropy_grad"),
        "the gradient",
    )
    if got.shape == expected.shape and np.allclose(got, 3 * expected, atol=1e-9):
        fail("The gradient is 3 times too large for a batch of 3: the loss is the mean over the batch.")
    if got.shape == expected.shape and np.allclose(got, stored[0]["logits_for_probs"], atol=1e-9):
        fail("You used the logits where the softmax probabilities belong.")
    if got.shape == expected.shape and np.allclose(got, stored[0]["smoothing_not_spread"], atol=1e-9):
        fail(
            "The smoothed target puts smoothing / c on every class (c classes) and 1 - smoothing more on "
            "the label, so that it sums to 1; yours puts the whole smoothing on every class."
        )
    unsmoothed = as_array(
        call(softmax_cross_entropy_grad, logits.copy(), labels.copy(), 0.0, what="softmax_cross_entropy_grad"),
        "the gradient with smoothing 0",
    )
    if got.shape == unsmoothed.shape and np.allclose(got, unsmoothed, atol=1e-12):
        fail(
            "The result is the same for smoothing 0.1 and smoothing 0: the argument smoothing is ignored. "
            "Which target does the loss compare the probabilities with?"
        )
    # to round-off: a finite-difference estimate of the gradient (errors from 1e-10) does not pass
    if got.shape == expected.shape and np.allclose(got, expected, rtol=1e-5, atol=1e-7):
        if not np.allclose(got, expected, rtol=1e-10, atol=1e-13):
            fail(
                "The gradient is close, but not exact to round-off: a finite-difference estimate? Derive "
                "the gradient of the loss with respect to the logits and compute that formula."
            )
    expect_close(
        got, expected, "the gradient with smoothing 0.1 (compared with tf.GradientTape)", rtol=1e-10, atol=1e-13
    )

    with np.errstate(all="ignore"):
        got = as_array(
            call(
                softmax_cross_entropy_grad,
                big.copy(),
                big_labels.copy(),
                big_smoothing,
                what="softmax_cross_entropy_grad",
            ),
            "the gradient for large logits",
        )
    if not np.all(np.isfinite(got)):
        fail(
            "With logits around 1000 the result contains NaN or inf: np.exp(1000) overflows. Subtract "
            "each row's maximum first; the probabilities do not change."
        )
    expect_close(got, expected_big, "the gradient for large logits", rtol=1e-10, atol=1e-13)
    return Verdict(
        True,
        "Matches tf.GradientTape with and without smoothing, and stays finite for large logits. (This check "
        "cannot prove that no framework ran; the hidden check runs your function where none can be imported.)",
    )


@visible_check("ch01.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
