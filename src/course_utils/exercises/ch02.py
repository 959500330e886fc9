"""Visible checks for chapter 2, "Loss functions" (public, simple cases only).

Keras itself is the oracle wherever it can be: the checks compare with ``keras.losses`` and
``tf.GradientTape``, so no reference solution lives in this package.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checking import refuse_frameworks
from . import Question, Verdict, as_array, call, expect_close, fail, validate_answers, visible_check

QUIZ = (
    Question("q1"),
    Question("q2", ("A", "B", "C", "D")),
    Question("q3", ("A", "B", "C", "D")),
    Question("q4"),
    Question("q5", ("A", "B", "C", "D")),
)


def _keras_huber(y_true: np.ndarray, y_pred: np.ndarray, delta: float) -> tuple[float, np.ndarray]:
    """The mean Huber loss of keras.losses.Huber and its gradient with respect to y_pred, by the tape."""
    import keras
    import tensorflow as tf

    yt = tf.constant(np.reshape(y_true, (1, -1)), dtype=tf.float64)
    yp = tf.constant(np.reshape(y_pred, (1, -1)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(yp)
        loss = keras.losses.Huber(delta=delta)(yt, yp)
    return float(loss), tape.gradient(loss, yp).numpy().reshape(np.shape(y_pred))


def _pair(result: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Unpack (loss, grad) or fail with a specific message."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{name} should return a pair (loss, grad), got {type(result).__name__}.")
    return as_array(result[0], "the loss"), as_array(result[1], "the gradient")


@visible_check("ch02.huber-grad")
def check_huber_grad(huber_loss_and_grad: Any) -> Verdict:
    """A vector with residuals in both pieces (delta 1), then a matrix with delta 0.5."""
    refuse_frameworks(huber_loss_and_grad, "huber_loss_and_grad")
    cases = [
        (np.array([0.0, 1.0, 2.0, -1.0, 0.5]), np.array([0.3, 3.0, 1.5, -4.0, 0.5]), 1.0),
        (np.array([[1.0, -2.0, 0.0], [0.5, 0.5, 3.0]]), np.array([[1.2, 0.0, -0.9], [0.5, 2.5, 2.8]]), 0.5),
    ]
    for i, (y_true, y_pred, delta) in enumerate(cases, start=1):
        loss, grad = _pair(
            call(huber_loss_and_grad, y_true.copy(), y_pred.copy(), delta, what="huber_loss_and_grad"),
            "huber_loss_and_grad",
        )
        exp_loss, exp_grad = _keras_huber(y_true, y_pred, delta)
        if loss.size != 1:
            fail(f"The loss has {loss.size} values: return the mean over all entries, one number.")
        r = y_pred - y_true
        if grad.shape == exp_grad.shape and np.allclose(grad, exp_grad * r.size, atol=1e-9):
            fail("The gradient is too large by the number of entries: the loss is a mean, divide by its size.")
        if grad.shape == exp_grad.shape and np.allclose(grad, -exp_grad, atol=1e-9):
            fail("The gradient has the wrong sign: differentiate with respect to y_pred, where r = y_pred - y_true.")
        if np.isclose(float(loss), exp_loss + 0.5 * delta**2 * np.mean(np.abs(r) > delta), atol=1e-9):
            fail("The linear piece is too large: it is delta * (|r| - delta / 2), so that both pieces meet at delta.")
        expect_close(float(loss), exp_loss, f"the loss (example {i}, compared with keras.losses.Huber)", rtol=1e-7)
        expect_close(grad, exp_grad, f"the gradient (example {i}, compared with tf.GradientTape)", atol=1e-9)
    return Verdict(True, "Loss and gradient match keras.losses.Huber and the tape on both public examples.")


def _keras_sparse_xent(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(labels, np.asarray(logits, dtype="float64"), from_logits=True)
    )


@visible_check("ch02.sparse-xent")
def check_sparse_xent(sparse_softmax_cross_entropy: Any) -> Verdict:
    """Ordinary logits, logits of +-1000, and a batch mixing small and very large rows."""
    refuse_frameworks(sparse_softmax_cross_entropy, "sparse_softmax_cross_entropy")
    logits = np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0], [-2.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    labels = np.array([0, 2, 0, 1])
    got = as_array(
        call(sparse_softmax_cross_entropy, logits.copy(), labels.copy(), what="sparse_softmax_cross_entropy"),
        "the losses",
    )
    expected = _keras_sparse_xent(logits, labels)
    if got.size == 1:
        fail("You returned one number: return one loss per example, an array of shape (n,).")
    if got.shape == expected.shape and np.allclose(got, -expected, atol=1e-9):
        fail("The losses are negative: the cross-entropy is minus the log-probability of the label.")
    expect_close(got, expected, "the losses on ordinary logits (compared with Keras)", rtol=1e-7, atol=1e-9)

    extreme = [
        (
            np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0]]),
            "the losses for logits of +-1000",
            "With logits of +-1000 the losses contain inf or NaN: np.exp overflows. Use the log-sum-exp "
            "identity, which only exponentiates numbers <= 0.",
        ),
        (
            np.array([[1.0, 2.0, 3.0], [2000.0, 1990.0, 1995.0]]),
            "the losses for a mixed batch",
            "A batch with a small row and a row near 2000 gives inf or NaN: does every row subtract its own "
            "maximum, or one maximum for the whole batch?",
        ),
    ]
    for (logits, name, hint), labels in zip(extreme, (np.array([2, 2]), np.array([0, 1]))):
        with np.errstate(all="ignore"):
            got = as_array(
                call(sparse_softmax_cross_entropy, logits.copy(), labels, what="sparse_softmax_cross_entropy"), name
            )
        if got.shape == (2,) and not np.all(np.isfinite(got)):
            fail(hint)
        expect_close(got, _keras_sparse_xent(logits, labels), name, rtol=1e-9)
    return Verdict(True, "Matches Keras on ordinary logits, on logits of +-1000 and on a mixed batch.")


def _keras_weighted_bce(y: np.ndarray, z: np.ndarray, pos_weight: float) -> float:
    import keras

    weights = np.where(y[:, 0] == 1, pos_weight, 1.0).astype("float32")
    return float(keras.losses.BinaryCrossentropy(from_logits=True)(y, z, sample_weight=weights))


@visible_check("ch02.weighted-bce")
def check_weighted_bce(weighted_binary_crossentropy: Any) -> Verdict:
    """Values against Keras with sample weights, extreme logits, then the zero detector's recall."""
    import keras
    import tensorflow as tf

    from course_utils.data import load_mnist
    from course_utils.metrics import binary_rates

    loss_fn = call(weighted_binary_crossentropy, 4.0, what="weighted_binary_crossentropy")
    if not callable(loss_fn):
        fail(f"weighted_binary_crossentropy(4.0) should return a loss function, got {type(loss_fn).__name__}.")
    y = np.array([[1.0], [0.0], [1.0], [0.0], [1.0]], dtype="float32")
    z = np.array([[2.0], [-1.0], [-0.5], [3.0], [0.0]], dtype="float32")
    value = as_array(call(loss_fn, tf.constant(y), tf.constant(z), what="the loss function"), "the loss")
    if value.size != 1:
        fail(f"The loss function returned {value.size} values: return the mean over the batch, one number.")
    expected = _keras_weighted_bce(y, z, 4.0)
    if np.isclose(float(value), expected * len(y), rtol=1e-5):
        fail("The loss is the sum over the batch: return the mean.")
    swapped = float(
        keras.losses.BinaryCrossentropy(from_logits=True)(y, z, sample_weight=np.where(y[:, 0] == 1, 1.0, 4.0))
    )
    if np.isclose(float(value), swapped, rtol=1e-5):
        fail("pos_weight multiplies the negatives' term: it belongs to the positive examples (y = 1).")
    plain = float(keras.losses.BinaryCrossentropy(from_logits=True)(y, z))
    if np.isclose(float(value), plain, rtol=1e-5):
        fail("Your loss equals the unweighted binary cross-entropy: pos_weight is not used.")
    expect_close(float(value), expected, "the loss (compared with Keras' weighted binary cross-entropy)", rtol=1e-5)

    z_far = np.array([[100.0], [-100.0], [-100.0], [100.0], [0.0]], dtype="float32")
    with np.errstate(all="ignore"):
        far = as_array(call(loss_fn, tf.constant(y), tf.constant(z_far), what="the loss function"), "the loss")
    if not np.all(np.isfinite(far)):
        fail(
            "With logits of +-100 the loss is inf or NaN: in float32, sigmoid(100) is exactly 1 and log(1 - 1) "
            "is -inf. Write both logs through softplus of the logit."
        )
    expect_close(float(far), _keras_weighted_bce(y, z_far, 4.0), "the loss for logits of +-100", rtol=1e-5)

    data = load_mnist(train_size=4_000, test_size=2_000, flatten=True)
    y_train = (data.y_train[:3000] == 0).astype("float32")[:, None]
    y_test = (data.y_test == 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(1)])
    try:
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=call(weighted_binary_crossentropy, 9.0))
        model.fit(data.x_train[:3000], y_train, batch_size=64, epochs=2, verbose=0)
    except Exception as err:
        fail(f"Training with your loss failed: {type(err).__name__}: {err}")
    logits = model.predict(data.x_test, verbose=0)[:, 0]
    rates = binary_rates(y_test, logits > 0)
    if not np.isfinite(logits).all():
        fail("Training with your loss produced NaN logits: is the loss finite and differentiable?")
    if rates["recall"] < 0.9:
        fail(
            f"Trained with pos_weight=9, the zero detector finds only {rates['recall']:.0%} of the zeros "
            "(at least 90 % expected): does the weight reach the positive examples' term?"
        )
    return Verdict(True, f"Matches Keras, stays finite; the zero detector reaches a recall of {rates['recall']:.0%}.")


def _mean_xent(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    import keras

    return float(
        keras.ops.mean(
            keras.losses.sparse_categorical_crossentropy(labels, np.asarray(logits) / temperature, from_logits=True)
        )
    )


def _public_logits(scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a calibrated model (labels drawn from its own softmax), multiplied by scale."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, size=(600, 5))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in probs])
    return scale * logits, labels


@visible_check("ch02.temperature")
def check_temperature(choose_temperature: Any) -> Verdict:
    """An over-confident model (logits x3) and an under-confident one (logits x0.5), unsorted candidates."""
    candidates = [1.0, 0.25, 3.0, 0.5, 10.0]
    for scale, seed, kind in [(3.0, 0, "over-confident"), (0.5, 1, "under-confident")]:
        logits, labels = _public_logits(scale, seed)
        got = call(choose_temperature, logits.copy(), labels.copy(), list(candidates), what="choose_temperature")
        if isinstance(got, np.generic):
            got = got.item()
        if got not in candidates:
            fail(f"Return one of the candidates; got {got!r}.")
        losses = {t: _mean_xent(logits, labels, t) for t in candidates}
        best = min(losses, key=losses.get)
        if got == best:
            continue
        if got == candidates[0]:
            fail(
                f"For the {kind} model you returned the first candidate. Try every candidate (they are not "
                "sorted), and compare mean cross-entropies: the accuracy is the same for every temperature."
            )
        if got == max(losses, key=losses.get):
            fail(f"For the {kind} model you returned the temperature with the *highest* cross-entropy.")
        if np.isclose(got, 1 / best):
            fail(f"For the {kind} model you returned 1/T: divide the logits by T, do not multiply them.")
        fail(f"For the {kind} model another candidate gives a lower mean cross-entropy on these examples.")
    return Verdict(True, "Right for the over-confident and the under-confident public models.")


@visible_check("ch02.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
