"""Visible checks for chapter 1, "Gradients and backpropagation" and its part 2 (public, simple cases only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checking import numpy_only
from ..watch import watched_call
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


BRIER_GRAD_CASES = (
    (np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0], [-2.0, 0.0, 1.0]]), np.array([0, 2, 0]), 0.1),
    (np.array([[1000.0, 999.0, 997.0], [-5.0, 700.0, 701.5]]), np.array([1, 2]), 0.2),
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
            "With logits around 1000 the result contains NaN or inf: np.exp(1000) overflows. Subtract "
            "each row's maximum first; the probabilities do not change."
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


@visible_check("ch01.stable-lr")
def check_stable_lr(largest_stable_lr: Any) -> Verdict:
    """A diagonal quadratic with curvatures 1 and 10: rates below 2/10 converge, rates above diverge."""

    def grad(x: np.ndarray) -> np.ndarray:
        return np.array([1.0, 10.0]) * x

    candidates = [0.25, 0.01, 0.15, 0.05, 0.5]
    with np.errstate(all="ignore"):
        got = call(largest_stable_lr, grad, np.array([1.0, 0.01]), list(candidates), 100, what="largest_stable_lr")
    if got is None:
        fail("You returned None, but 0.01, 0.05 and 0.15 are stable here (each step multiplies x2 by 1 - 10 lr).")
    if got in (0.25, 0.5):
        fail(
            f"{got} diverges on this function: x2 is multiplied by 1 - 10 * {got} at every step. It starts "
            "small, so the first steps still shrink the gradient: judge a rate after all the steps."
        )
    if got in (0.01, 0.05):
        fail(f"{got} is stable, but so is a larger candidate: try all of them (they are not sorted).")
    if got != 0.15:
        fail(f"Return one of the candidates; got {got!r}.")
    # 0.21 diverges slowly from a tiny x2: a short run cannot see it, a long one can
    short_long = []
    for steps in (20, 200):
        with np.errstate(all="ignore"):
            short_long.append(
                call(largest_stable_lr, grad, np.array([1.0, 1e-6]), [0.05, 0.21], steps, what="largest_stable_lr")
            )
    if short_long[0] == short_long[1]:
        fail(
            f"With 20 and with 200 steps you returned {short_long[0]!r} both times, but 0.21 diverges slowly "
            "from a tiny x2: run exactly `steps` steps, as many as you are given."
        )
    if short_long != [0.21, 0.05]:
        fail(f"Expected 0.21 after 20 steps and 0.05 after 200 steps, got {short_long}.")
    with np.errstate(all="ignore"):
        none = call(largest_stable_lr, grad, np.array([1.0, 1.0]), [0.3, 0.5], 100, what="largest_stable_lr")
    if none is not None:
        fail(f"When every candidate diverges, return None; got {none!r}.")
    return Verdict(True, "Correct on the public quadratic (unsorted candidates, short and long runs, none stable).")


def _public_blobs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated classes in 5 dimensions."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=300)
    centers = 3.0 * np.eye(3, 5)
    return (centers[labels] + rng.normal(size=(300, 5))).astype("float32"), labels


def _reference_model(seed: int = 3) -> Any:
    """The exercise's model as the buggy version builds it: one Dense layer, seeded the same way."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(3)])


# Keras functions that would train the model for the student: the exercise asks for the loop itself.
# The course's own training loop (course_utils.training.train_loop) is refused too: it is the answer.
FIT_REFUSED = ("fit", "train_on_batch", "train_step", "make_train_function", "course_utils.training.train_loop")


def fit_refusal(used: list[str]) -> str:
    """The message for what the watcher refused in ch01.fix-training-loop (visible and hidden check)."""
    tampering = [u[len("tampering: ") :] for u in used if u.startswith("tampering: ")]
    if tampering:
        return (
            f"While the function ran, the watcher saw {tampering[0]} called from your code (reading "
            "frames, the profile hook or threads): the check cannot watch such a function. Write the "
            "loop with the tape, as the buggy version does."
        )
    name = used[0]
    if name.startswith("course_utils."):
        return (
            f"The function calls the course's {name}: it is the loop the exercise asks for. Write the "
            "loop yourself (a tape per batch, an update per variable), as the buggy version does."
        )
    return (
        f"The function calls Keras' {name.split('.')[-1]}: write the loop yourself (a tape per batch, "
        "an update per variable), as the buggy version does."
    )


def _weights_after_sgd_epoch(
    x: np.ndarray, y: np.ndarray, batch_size: int, lr: float, seed: int, epochs: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The weights after ``epochs`` epochs of Keras' own SGD on the mean cross-entropy of the logits.

    The batches come in the exercise's order: a new ``permutation`` of one
    ``np.random.default_rng(seed)`` per epoch, then consecutive slices of ``batch_size`` (``fit``
    without shuffling, on the permuted data).
    Keras trains here, not a formula: the check holds no gradient of its own that would answer
    ch01.brier-grad, and no loop that would answer this exercise.
    """
    import keras

    model = _reference_model(seed)
    model.compile(optimizer=keras.optimizers.SGD(lr), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(seed)  # the exercise's generator, drawn once per epoch
    for _ in range(epochs):
        order = rng.permutation(x.shape[0])
        model.fit(x[order], y[order], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    w1, b1 = model.get_weights()
    return w1, b1


def _trained(train_softmax_regression: Any, *args: Any) -> Any:
    """The student's function, called while Keras' own training functions are watched for."""
    if train_softmax_regression is None or not callable(train_softmax_regression):
        call(train_softmax_regression, what="train_softmax_regression")  # fails with the usual message
    (kind, value), used = watched_call(lambda: train_softmax_regression(*args), refused_names=FIT_REFUSED)
    if used:
        fail(fit_refusal(used))
    if kind == "error":
        return call(_raise, value, what="train_softmax_regression")
    return value


def _raise(error: BaseException) -> Any:
    raise error


@visible_check("ch01.fix-training-loop")
def check_fix_training_loop(train_softmax_regression: Any) -> Verdict:
    """One full-batch step, then one epoch of mini-batches in the exercise's order, against Keras' SGD.

    Then the accuracy after a short training. Keras' own training functions (``fit``) are refused.
    """
    import keras

    x, y = _public_blobs(0)
    w0, _ = _reference_model().get_weights()
    model = _trained(train_softmax_regression, x, y, 1, len(x), 0.5, 3)
    if not isinstance(model, keras.Model):
        fail(f"Return the trained Keras model, got {type(model).__name__}.")
    weights = model.get_weights()
    if len(weights) != 2 or weights[0].shape != w0.shape:
        fail("Keep the buggy version's model (one Dense layer with one unit per class); fix the training.")
    w1, b1 = _weights_after_sgd_epoch(x, y, len(x), 0.5, 3)  # what one correct full-batch step gives
    if np.allclose(weights[0], 2 * w0 - w1, atol=1e-5):
        fail("After one step the loss went up: the update must subtract lr times the gradient.")
    if not (np.allclose(weights[0], w1, atol=1e-5) and np.allclose(weights[1], b1, atol=1e-5)):
        fail(
            "One full-batch step does not match SGD on the mean cross-entropy. Check which labels go with "
            "which images, and what the loss assumes about the model's outputs (logits or probabilities)."
        )
    # one epoch of 5 batches (the last one shorter): the result depends on the order of the batches
    model = _trained(train_softmax_regression, x, y, 1, 64, 0.5, 3)
    w1, b1 = _weights_after_sgd_epoch(x, y, 64, 0.5, 3)
    weights = model.get_weights()
    if not (np.allclose(weights[0], w1, atol=1e-4) and np.allclose(weights[1], b1, atol=1e-4)):
        fail(
            "A full-batch step is right, but one epoch of batches of 64 does not match SGD over the batches "
            "in the required order: one rng.permutation per epoch with rng = np.random.default_rng(seed), "
            "then consecutive slices of that order, each image with its own label."
        )
    # two epochs: the argument epochs, and a new permutation for each epoch
    model = _trained(train_softmax_regression, x, y, 2, 64, 0.5, 3)
    w2, b2 = _weights_after_sgd_epoch(x, y, 64, 0.5, 3, epochs=2)
    weights = model.get_weights()
    if not (np.allclose(weights[0], w2, atol=1e-4) and np.allclose(weights[1], b2, atol=1e-4)):
        fail(
            "One epoch is right, but two epochs of batches of 64 do not match SGD: run `epochs` epochs, "
            "each with a new rng.permutation of the same generator (drawn once per epoch, not once "
            "for the whole run)."
        )
    model = _trained(train_softmax_regression, x, y, 3, 16, 0.1, 4)
    x_new, y_new = _public_blobs(1)
    accuracy = float(np.mean(np.asarray(model(x_new)).argmax(axis=1) == y_new))
    if accuracy < 0.9:
        fail(
            f"Single steps are right, but after 3 epochs the accuracy is only {accuracy:.0%} on new points: "
            "does every batch of images come with its own labels?"
        )
    return Verdict(True, f"The loop is fixed: the steps match SGD, and the model reaches {accuracy:.0%}.")


@visible_check("ch01.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
