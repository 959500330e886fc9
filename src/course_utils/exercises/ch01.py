"""Visible checks for chapter 1, "Gradients and gradient descent" (public, simple cases only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import Question, Verdict, as_array, call, diagnose, expect_close, fail, validate_answers, visible_check

QUIZ = (Question("q1"), Question("q2", ("A", "B", "C", "D")), Question("q3"),
        Question("q4", ("A", "B", "C", "D")), Question("q5"))


def _sum_of_squares(x: np.ndarray) -> float:
    return float(np.sum(np.asarray(x) ** 2))


def _sum_of_cubes(x: np.ndarray) -> float:
    return float(np.sum(np.asarray(x) ** 3))


@visible_check("ch01.central-difference")
def check_central_difference(central_difference: Any) -> Verdict:
    """f(x) = sum(x**2) has gradient 2x; f(x) = sum(x**3) tells the schemes and steps apart."""
    x = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.5]])
    x_copy = x.copy()
    got = as_array(call(central_difference, _sum_of_squares, x, what="central_difference"),
                   "central_difference(f, x)")
    if not np.array_equal(x, x_copy):
        fail("central_difference changed the caller's x: work on a copy (x.copy()) or restore "
             "every entry after nudging it.")
    if got.shape != x.shape:
        fail(f"The result has shape {got.shape}, expected {x.shape}: one partial derivative per "
             "entry of x, in an array shaped like x.")
    if np.allclose(got, 4 * x, rtol=1e-4):
        fail("The result is twice the gradient: the central difference divides by 2h, not h.")
    if np.allclose(got, x, rtol=1e-4):
        fail("The result is half the gradient: the central difference divides by 2h, not 4h.")
    if np.allclose(got, -2 * x, rtol=1e-4, atol=1e-6):
        fail("The result has the wrong sign: compute (f(x + h e) - f(x - h e)) / (2h).")
    if np.allclose(got, 2 * x + 1e-5, rtol=1e-6, atol=1e-8) and not np.allclose(got, 2 * x, atol=1e-8):
        fail("The result is off by about h: that is the forward difference (f(x + h e) - f(x)) / h. "
             "Use f(x + h e) and f(x - h e).")
    expect_close(got, 2 * x, "central_difference(sum(x**2), x)", rtol=1e-6, atol=1e-6)

    # for sum(x**3) the central difference is exactly 3 x**2 + h**2: the step must be used
    v = np.array([1.0, 2.0, -1.0])
    h = 0.1
    got = as_array(call(central_difference, _sum_of_cubes, v, h, what="central_difference"),
                   "central_difference(f, x, h)")
    if got.shape == v.shape and np.allclose(got, 3 * v**2, atol=1e-4):
        fail("With h=0.1 the result equals the exact derivative: is the argument h ignored? "
             "Use the step you are given.")
    if got.shape == v.shape and np.allclose(got, 3 * v**2 + 3 * v * h + h**2, atol=1e-8):
        fail("The result matches the forward difference (f(x + h e) - f(x)) / h; use the central one.")
    expect_close(got, 3 * v**2 + h**2, "central_difference(sum(x**3), x, h=0.1)", rtol=1e-8, atol=1e-8)
    return Verdict(True, "Correct on the two public examples (a matrix input and an explicit step h).")


@visible_check("ch01.gd-step")
def check_gd_step(gd_step: Any) -> Verdict:
    """One step from x = [1, -2] with gradient [4, -1] and learning rate 0.5."""
    x = np.array([1.0, -2.0])
    grad = np.array([4.0, -1.0])
    x_copy = x.copy()
    got = as_array(call(gd_step, x, grad, 0.5, what="gd_step"), "gd_step(x, grad, lr)")
    expected = np.array([-1.0, -1.5])
    if got.shape == x.shape and np.allclose(got, x + 0.5 * grad):
        fail("The step goes uphill: gradient descent moves *against* the gradient, x - lr * grad.")
    if got.shape == x.shape and np.allclose(got, x - grad):
        fail("The learning rate is ignored: scale the gradient by lr.")
    if got.shape == x.shape and np.allclose(got, -0.5 * grad):
        fail("The result is -lr * grad, the size of the step; return the new point x - lr * grad.")
    expect_close(got, expected, "gd_step(x, grad, lr)")
    if not np.array_equal(x, x_copy):
        fail("gd_step modified x in place (x -= ...); return a new array and leave x unchanged.")
    return Verdict(True, "Correct on the public example.")


@visible_check("ch01.gradient-descent")
def check_gradient_descent(gradient_descent: Any) -> Verdict:
    """f(x) = |x|^2 / 2 (gradient x): learning rate 0.5 halves x at every step."""
    x0 = np.array([1.0, -2.0])
    result = call(gradient_descent, lambda x: np.asarray(x, dtype=float), x0.copy(), 0.5, 1e-3, 100,
                  what="gradient_descent")
    if result is None:
        fail("gradient_descent returned None: return the tuple (x, n_steps).")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"gradient_descent should return a tuple (x, n_steps), got {type(result).__name__}.")
    x, n_steps = result
    x = as_array(x, "the final point x")
    if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, (int, np.integer)):
        fail(f"n_steps should be an int (the number of updates), got {type(n_steps).__name__}.")
    # |x_k| = sqrt(5) / 2**k falls below 1e-3 for the first time at k = 12
    if n_steps == 100:
        fail("The run went on for all max_steps=100 steps: stop as soon as the gradient's norm is "
             "below tol (np.linalg.norm(g) < tol).")
    if n_steps in (11, 13):
        fail(f"n_steps is {n_steps}, expected 12: check the order (gradient, test, then step) and "
             "count only the updates of x.")
    if n_steps != 12:
        fail(f"n_steps is {n_steps}, expected 12 for this example (each step halves x, starting "
             "from norm sqrt(5), until the gradient's norm is below 1e-3).")
    expect_close(x, x0 / 2**12, "the final point x", rtol=1e-9, atol=1e-12)

    x, n_steps = call(gradient_descent, lambda x: np.asarray(x, dtype=float), x0.copy(), 0.01, 1e-3, 5,
                      what="gradient_descent")
    if n_steps != 5:
        fail(f"With max_steps=5 and a slow learning rate the run should stop after 5 steps, "
             f"got n_steps={n_steps}.")
    expect_close(x, x0 * 0.99**5, "the final point after max_steps", rtol=1e-9)

    x, n_steps = call(gradient_descent, lambda x: np.asarray(x, dtype=float), np.array([1e-4, 0.0]),
                      0.5, 1e-3, 10, what="gradient_descent")
    if n_steps != 0:
        fail(f"When the gradient at x0 is already below tol no step should be taken, got n_steps={n_steps}.")
    return Verdict(True, "Correct on the public examples (stopping rule, max_steps, starting at a minimum).")


def _linear_model(seed: int = 0) -> Any:
    import keras
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=(3, 2)).astype("float32"), rng.normal(size=2).astype("float32")])
    return model


@visible_check("ch01.loss-gradients")
def check_loss_gradients(loss_gradients: Any) -> Verdict:
    """A linear model with mean squared error, whose gradients are known in closed form."""
    import keras
    model = _linear_model()
    before = [w.copy() for w in model.get_weights()]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 3)).astype("float32")
    y = rng.normal(size=(4, 2)).astype("float32")
    grads = call(loss_gradients, model, x, y, keras.losses.MeanSquaredError(), what="loss_gradients")
    if grads is None:
        fail("loss_gradients returned None: return the list of gradients.")
    if not isinstance(grads, (list, tuple)):
        fail(f"loss_gradients should return a list (one gradient per trainable variable), "
             f"got {type(grads).__name__}.")
    if len(grads) != len(model.trainable_variables):
        fail(f"Got {len(grads)} gradients for {len(model.trainable_variables)} trainable variables "
             "(kernel and bias): take the gradient with respect to model.trainable_variables.")
    if any(g is None for g in grads):
        fail("Some gradients are None: compute the loss inside the `with tf.GradientTape()` block, "
             "from model(x).")
    if not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights())):
        fail("The model's weights changed: return the gradients without applying them.")
    W, b = before
    residual = x @ W + b - y
    scale = 2.0 / residual.size  # MSE averages over the 4 examples and the 2 outputs
    expected = [scale * x.T @ residual, scale * residual.sum(axis=0)]
    for name, got, exp in zip(["kernel", "bias"], grads, expected):
        hint = diagnose(got, exp, f"the gradient of the {name}", rtol=1e-4, atol=1e-5)
        if hint is not None:
            fail(hint)
    return Verdict(True, "Correct on the public example (a linear model with mean squared error).")


@visible_check("ch01.clip-global-norm")
def check_clip_global_norm(clip_by_global_norm: Any) -> Verdict:
    """Two gradients with global norm 13, clipped to 6.5 (halved) and to 20 (unchanged)."""
    grads = [np.array([3.0, 4.0]), np.array([[0.0, 12.0]])]
    originals = [g.copy() for g in grads]
    result = call(clip_by_global_norm, grads, 6.5, what="clip_by_global_norm")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("clip_by_global_norm should return a tuple (clipped, global_norm).")
    clipped, norm = result
    if np.size(norm) != 1:
        fail("The second item returned is not a single number: return a tuple (clipped, global_norm), "
             "not only the list of clipped gradients.")
    if not all(np.array_equal(a, b) for a, b in zip(grads, originals)):
        fail("clip_by_global_norm modified the input gradients in place; return new arrays.")
    if not isinstance(clipped, (list, tuple)) or len(clipped) != 2:
        fail("clipped should be a list with one array per input gradient.")
    norm = as_array(norm, "global_norm")
    if norm.size != 1:
        fail(f"global_norm should be a single number, got an array of shape {norm.shape}.")
    if np.isclose(float(norm), 6.5):
        fail("global_norm is the norm after clipping; return the norm of the original gradients.")
    if np.isclose(float(norm), 17.0):
        fail("global_norm is 17 = 5 + 12, the sum of the norms: take the square root of the sum of "
             "the squared norms.")
    expect_close(norm, 13.0, "global_norm")
    first, second = as_array(clipped[0], "clipped[0]"), as_array(clipped[1], "clipped[1]")
    if second.shape == (1, 2) and np.allclose(first, [3.0, 4.0]) and np.allclose(second, [[0.0, 6.5]]):
        fail("Each gradient was clipped to norm 6.5 on its own (that is clipnorm): scale *all* "
             "gradients by the same factor clip_norm / global_norm.")
    expect_close(first, [1.5, 2.0], "clipped[0]")
    expect_close(second, [[0.0, 6.0]], "clipped[1]")

    clipped, norm = call(clip_by_global_norm, grads, 20.0, what="clip_by_global_norm")
    big = as_array(clipped[0], "clipped[0] with clip_norm=20")
    if big.shape == (2,) and np.allclose(big, np.array([3.0, 4.0]) * 20 / 13):
        fail("With clip_norm above the global norm the gradients were scaled *up*: the factor is "
             "clip_norm / max(global_norm, clip_norm), never above 1.")
    expect_close(big, [3.0, 4.0], "clipped[0] with clip_norm=20 (no clipping needed)")
    expect_close(clipped[1], [[0.0, 12.0]], "clipped[1] with clip_norm=20 (no clipping needed)")
    return Verdict(True, "Correct on the public example (clipping needed, and not needed).")


@visible_check("ch01.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)


