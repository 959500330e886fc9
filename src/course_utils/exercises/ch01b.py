"""Visible checks for chapter 1, part 2, "Gradient descent in practice" (public, simple cases only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..watch import watched_call
from . import Question, Verdict, call, fail, validate_answers, visible_check

QUIZ = (
    Question("q1", ("A", "B", "C", "D")),
    Question("q2", ("A", "B", "C", "D")),
    Question("q3", ("A", "B", "C", "D")),
)


@visible_check("ch01b.stable-lr")
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

    # the minimum away from the origin, x0 at the origin, a short run: the size of x says nothing, and
    # 0.21 lets the gradient dip and grow again, yet it ends below its start after 20 steps
    def shifted(x: np.ndarray) -> np.ndarray:
        return np.array([1.0, 10.0]) * (x - np.array([3.0, 0.039]))

    with np.errstate(all="ignore"):
        far = call(largest_stable_lr, shifted, np.zeros(2), [0.05, 0.21, 0.15], 20, what="largest_stable_lr")
    if far != 0.21:
        fail(
            f"With the minimum at (3, 0.039), x0 at the origin and 20 steps you returned {far!r}, expected "
            "0.21: after its 20th step the gradient's norm is below its norm at x0. Judge a rate once, "
            "after the last step, against the start (not by the size of x, which assumes the minimum at "
            "the origin, not at every step, and not against the norm after the first step)."
        )
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
FIT_REFUSED = (
    "fit",
    "train_on_batch",
    "train_step",
    "make_train_function",
    # the course's own loops: each one trains with SGD over batches in the exercise's order
    "course_utils.training.train_loop",
    "course_utils.experiments.train_curves",
    "course_utils.parallel.train_branches",
    "course_utils.optimizers.lr_range_test",
)
BUG_CHOICES = tuple("ABCDEFGH")  # the statements listed in the exercise; three of them are the bugs


def bugs_problem(bugs: Any) -> str | None:
    """What is wrong with the form of the `bugs` answer (three distinct letters), or None. The letters
    themselves are graded on submission."""
    if not isinstance(bugs, (set, frozenset, list, tuple)):
        return (
            f"Set `bugs` to the set of the three letters you chose, e.g. {{'A', 'B', 'C'}}; got {type(bugs).__name__}."
        )
    letters = {str(b).strip().upper() for b in bugs}
    if not letters <= set(BUG_CHOICES):
        return f"`bugs` should hold letters from {BUG_CHOICES[0]} to {BUG_CHOICES[-1]}; got {sorted(map(str, bugs))}."
    if len(letters) != 3 or len(bugs) != 3:
        return f"The function has three bugs: `bugs` should hold three different letters; got {len(letters)}."
    return None


def fit_refusal(used: list[str]) -> str:
    """The message for what the watcher refused in ch01b.fix-training-loop (visible and hidden check)."""
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
    ch01.softmax-xent-grad, and no loop that would answer this exercise.
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


@visible_check("ch01b.fix-training-loop")
def check_fix_training_loop(train_softmax_regression: Any, bugs: Any = None) -> Verdict:
    """One full-batch step, then one epoch of mini-batches in the exercise's order, against Keras' SGD.

    Then the accuracy after a short training. Keras' own training functions (``fit``) and the course's
    loops are refused. The form of ``bugs`` (the diagnosis) is checked; its letters are graded on
    submission.
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
        fail("After one full-batch step the loss went up instead of down.")
    if not (np.allclose(weights[0], w1, atol=1e-5) and np.allclose(weights[1], b1, atol=1e-5)):
        fail(
            "One full-batch step does not match SGD on the mean cross-entropy of the model's outputs. Print "
            "the loss before and after one step, and compare it with the loss Keras computes for the same step."
        )
    # one epoch of 5 batches (the last one shorter): the result depends on the order of the batches
    model = _trained(train_softmax_regression, x, y, 1, 64, 0.5, 3)
    w1, b1 = _weights_after_sgd_epoch(x, y, 64, 0.5, 3)
    weights = model.get_weights()
    if not (np.allclose(weights[0], w1, atol=1e-4) and np.allclose(weights[1], b1, atol=1e-4)):
        fail(
            "A full-batch step is right, but one epoch of batches of 64 does not match SGD over the batches "
            "in the required order: one rng.permutation per epoch with rng = np.random.default_rng(seed), "
            "then consecutive slices of that order."
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
        fail(f"Single steps are right, but after 3 epochs the accuracy is only {accuracy:.0%} on new points.")
    problem = bugs_problem(bugs)
    if problem:
        fail(f"The loop is fixed (the model reaches {accuracy:.0%}), but: {problem}")
    return Verdict(
        True,
        f"The loop is fixed: the steps match SGD, and the model reaches {accuracy:.0%}. Your three letters "
        "in `bugs` are graded on submission.",
    )


@visible_check("ch01b.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
