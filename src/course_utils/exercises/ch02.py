"""Visible checks for chapter 2, "Loss functions" (public, simple cases only).

The checks compare with what ``keras.losses`` and ``tf.GradientTape`` give on the public inputs
below. Those values are stored (``_expected_ch02``, computed by the instructors' oracles and checked
by a test), never computed here: a function in this package that computed them would answer the
exercise for anyone who imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..checking import call_without_logaddexp, numpy_only, uses_logaddexp
from ..watch import GRAPH_RUNS, watched_call
from . import Question, Verdict, as_array, call, expect_close, fail, validate_answers, visible_check
from ._expected_ch02 import EXPECTED

QUIZ = (
    Question("q1"),
    Question("q2", ("A", "B", "C", "D")),
    Question("q3", ("A", "B", "C", "D")),
    Question("q4"),
    Question("q5", ("A", "B", "C", "D")),
)


HUBER_CASES = (
    (np.array([0.0, 1.0, 2.0, -1.0, 0.5]), np.array([0.3, 3.0, 1.5, -4.0, 0.5]), 1.0),
    (np.array([[1.0, -2.0, 0.0], [0.5, 0.5, 3.0]]), np.array([[1.2, 0.0, -0.9], [0.5, 2.5, 2.8]]), 0.5),
    # residuals within 1e-9 of +-delta, on both sides of the kink
    (np.array([0.0, 0.0, 1.0, 1.0]), np.array([1.5 + 5e-10, -1.5 + 5e-10, 2.5 - 5e-10, -0.5 - 5e-10]), 1.5),
)


def _without_delta(r: np.ndarray, delta: float) -> tuple[float, float]:
    """Mean losses whose linear piece forgets delta: |r| - delta / 2, and |r| - 1 / 2 (the usual mistakes)."""
    quadratic = 0.5 * r**2
    outside = np.abs(r) > delta
    return (
        float(np.mean(np.where(outside, np.abs(r) - delta / 2, quadratic))),
        float(np.mean(np.where(outside, np.abs(r) - 0.5, quadratic))),
    )


def _pair(result: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Unpack (loss, grad) or fail with a specific message."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{name} should return a pair (loss, grad), got {type(result).__name__}.")
    return as_array(result[0], "the loss"), as_array(result[1], "the gradient")


@visible_check("ch02.huber-grad")
def check_huber_grad(huber_loss_and_grad: Any) -> Verdict:
    """A vector with residuals in both pieces (delta 1), a matrix with delta 0.5, residuals at the kink."""
    huber_loss_and_grad = numpy_only(huber_loss_and_grad, "huber_loss_and_grad")
    for i, ((y_true, y_pred, delta), exp) in enumerate(zip(HUBER_CASES, EXPECTED["huber-grad"]), start=1):
        loss, grad = _pair(
            call(huber_loss_and_grad, y_true.copy(), y_pred.copy(), delta, what="huber_loss_and_grad"),
            "huber_loss_and_grad",
        )
        exp_loss, exp_grad = exp["loss"], np.array(exp["grad"])
        if loss.size != 1:
            fail(f"The loss has {loss.size} values: return the mean over all entries, one number.")
        r = y_pred - y_true
        outside = np.abs(r) > delta
        if grad.shape == exp_grad.shape and np.allclose(grad, exp_grad * r.size, atol=1e-9):
            fail("The gradient is too large by the number of entries: the loss is a mean, divide by its size.")
        if grad.shape == exp_grad.shape and np.allclose(grad, -exp_grad, atol=1e-9):
            fail("The gradient has the wrong sign: differentiate with respect to y_pred, where r = y_pred - y_true.")
        if np.isclose(float(loss), exp_loss + 0.5 * delta**2 * np.mean(outside), atol=1e-9):
            fail("The linear piece is too large: it is delta * (|r| - delta / 2), so that both pieces meet at delta.")
        if delta != 1.0 and np.isclose(float(loss), exp["loss_delta_one"], atol=1e-9):
            fail(f"With delta={delta} your loss is Huber's with delta = 1: use the delta argument in both pieces.")
        if delta != 1.0 and any(np.isclose(float(loss), v, atol=1e-9) for v in _without_delta(r, delta)):
            fail(
                f"With delta={delta} the linear piece forgets delta: beyond delta the loss is "
                "delta * (|r| - delta / 2) and its slope delta * sign(r)."
            )
        expect_close(float(loss), exp_loss, f"the loss (example {i}, compared with keras.losses.Huber)", rtol=1e-7)
        lacks_factor = np.allclose(np.where(outside, grad * delta, grad), exp_grad, atol=1e-9)
        if delta != 1.0 and grad.shape == exp_grad.shape and lacks_factor:
            fail(f"With delta={delta} the gradient beyond delta lacks its factor delta: it is delta * sign(r) / n.")
        # at the kink (example 3) a numerical derivative is off by about 1e-7 relative: the tighter rtol
        rtol = 1e-7 if i == 3 else 1e-5
        expect_close(grad, exp_grad, f"the gradient (example {i}, compared with tf.GradientTape)", rtol=rtol, atol=1e-9)
    return Verdict(True, "Loss and gradient match keras.losses.Huber and the tape on the three public examples.")


XENT_CASES = (
    (np.array([[2.0, 1.0, -1.0], [0.5, 0.5, 3.0], [-2.0, 0.0, 1.0], [0.0, 0.0, 0.0]]), np.array([0, 2, 0, 1])),
    (np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 999.0]]), np.array([2, 2])),
    (np.array([[1.0, 2.0, 3.0], [2000.0, 1990.0, 1995.0]]), np.array([0, 1])),
    # beyond what even np.longdouble's exp holds (about 11356): only the identity copes
    (np.array([[1e5, 0.0, -1e5], [-1e5, 99997.0, 1e5], [3.0, 20000.0, 19990.0]]), np.array([1, 1, 2])),
)


# NumPy's own log-sum-exp (np.logaddexp, np.logaddexp2) would answer the exercise in one call: refused
# by name and by object (an alias, `from numpy import logaddexp as ...`), here and hidden.
LOGADDEXP_REFUSED = (
    "np.logaddexp does the log-sum-exp for you: write the identity yourself, with np.max, np.exp and np.log."
)


def _refusing_logaddexp(fn: Any) -> Any:
    """fn, failing the check when a call reaches np.logaddexp at run time (a name built from strings)."""
    if not callable(fn):
        return fn  # a stub: call() says what is missing

    def refusing(*args: Any, **kwargs: Any) -> Any:
        result, used = call_without_logaddexp(fn, *args, **kwargs)
        if used:
            fail(LOGADDEXP_REFUSED)
        return result

    refusing.__name__ = getattr(fn, "__name__", "refusing")
    return refusing


XENT_TIME_LIMIT = 20.0  # seconds per call on the large batch: whole-array NumPy needs well under one
XENT_BIG_SHAPE = (50_000, 100)  # examples, classes


def xent_slow_message() -> str:
    """The hint for an answer stopped by the time limit on the large batch."""
    n, k = XENT_BIG_SHAPE
    return (
        f"sparse_softmax_cross_entropy did not finish within {XENT_TIME_LIMIT:g} s on a batch of {n:,} "
        f"examples over {k} classes. Exact arithmetic entry by entry (decimal, fractions) is far too slow: "
        "use the log-sum-exp identity with whole-array NumPy operations."
    )


@visible_check("ch02.sparse-xent")
def check_sparse_xent(sparse_softmax_cross_entropy: Any) -> Verdict:
    """Ordinary logits, logits of +-1000, a batch mixing small and very large rows, and a large
    batch that only whole-array arithmetic finishes in time."""
    if uses_logaddexp(sparse_softmax_cross_entropy):  # by name or by object, any alias
        fail(LOGADDEXP_REFUSED)
    sparse_softmax_cross_entropy = _refusing_logaddexp(
        numpy_only(sparse_softmax_cross_entropy, "sparse_softmax_cross_entropy", time_limit=XENT_TIME_LIMIT)
    )
    (logits, labels), *extremes = XENT_CASES
    expected_all = [np.array(e) for e in EXPECTED["sparse-xent"]]
    got = as_array(
        call(sparse_softmax_cross_entropy, logits.copy(), labels.copy(), what="sparse_softmax_cross_entropy"),
        "the losses",
    )
    expected = expected_all[0]
    if got.size == 1:
        fail("You returned one number: return one loss per example, an array of shape (n,).")
    if got.shape == expected.shape and np.allclose(got, -expected, atol=1e-9):
        fail("The losses are negative: the cross-entropy is minus the log-probability of the label.")
    expect_close(got, expected, "the losses on ordinary logits (compared with Keras)", rtol=1e-7, atol=1e-9)

    extreme = [
        (
            "the losses for logits of +-1000",
            "With logits of +-1000 the losses contain inf or NaN: np.exp overflows. Use the log-sum-exp "
            "identity, which only exponentiates numbers <= 0.",
        ),
        (
            "the losses for a mixed batch",
            "A batch with a small row and a row near 2000 gives inf or NaN: does every row subtract its own "
            "maximum, or one maximum for the whole batch?",
        ),
        (
            "the losses for logits of +-1e5",
            "With logits of +-1e5 the losses contain inf or NaN: exp overflows, even in a wider float "
            "such as np.longdouble. Use the log-sum-exp identity, which only exponentiates numbers <= 0.",
        ),
    ]
    for (name, hint), (logits, labels), expected in zip(extreme, extremes, expected_all[1:]):
        with np.errstate(all="ignore"):
            got = as_array(
                call(sparse_softmax_cross_entropy, logits.copy(), labels, what="sparse_softmax_cross_entropy"), name
            )
        if got.shape == labels.shape and not np.all(np.isfinite(got)):
            fail(hint)
        expect_close(got, expected, name, rtol=1e-9)
    rng = np.random.default_rng(5)
    logits = 3000.0 * rng.normal(size=XENT_BIG_SHAPE)
    labels = rng.integers(0, XENT_BIG_SHAPE[1], size=XENT_BIG_SHAPE[0])

    def in_time(*args: Any) -> Any:
        try:
            return sparse_softmax_cross_entropy(*args)
        except TimeoutError:
            fail(xent_slow_message())

    with np.errstate(all="ignore"):
        got = as_array(
            call(in_time, logits, labels, what="sparse_softmax_cross_entropy"), "the losses on the large batch"
        )
    if got.shape != labels.shape or not np.all(np.isfinite(got)) or np.any(got < 0):
        fail("On a large batch of logits of about +-3000, return one finite, non-negative loss per example.")
    return Verdict(
        True,
        "Matches Keras on ordinary logits, on logits of +-1000 and +-1e5 and on mixed batches; fast on a large batch.",
    )


BCE_LABELS = np.array([[1.0], [0.0], [1.0], [0.0], [1.0]], dtype="float32")
BCE_LOGITS = np.array([[2.0], [-1.0], [-0.5], [3.0], [0.0]], dtype="float32")
BCE_FAR_LOGITS = np.array([[100.0], [-100.0], [-100.0], [100.0], [0.0]], dtype="float32")
# The one call that answers the exercise, and Keras' losses that would do the same: refused by name
# wherever the function reaches them, since the loss must otherwise be built from TensorFlow operations.
GRAPH_CALLS = GRAPH_RUNS
BCE_REFUSED = (
    "weighted_cross_entropy_with_logits",
    "sigmoid_cross_entropy_with_logits",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "softmax_cross_entropy_with_logits",
    "sparse_softmax_cross_entropy_with_logits",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    # the same losses run as TensorFlow ops by type name (tf.raw_ops, TensorFlow's execute functions)
    "SoftmaxCrossEntropyWithLogits",
    "SparseSoftmaxCrossEntropyWithLogits",
    # A graph built in advance around one of the losses above (a tf.function, a tf.compat.v1.Session
    # graph, a raw functional op, a tf.data pipeline, a py_function) runs through these, and none of
    # the names above runs in Python then. A loss built from TensorFlow operations never calls them,
    # eagerly or while Keras traces it to train (the checks watch both).
    *GRAPH_CALLS,
)


def _raise_or(kind: str, value: Any) -> Any:
    """The value of a watched call, or its exception raised again (for call() to report)."""
    if kind == "error":
        raise value
    return value


def _runs_graph(name: str) -> bool:
    """Whether a refusal noted by the watcher ("tensorflow._do_run") is one of GRAPH_RUNS."""
    return name in GRAPH_RUNS or name.split(".", 1)[-1].startswith(tuple(g for g in GRAPH_RUNS if "." not in g))


def _refuse_bce(used: Any) -> None:
    """Fail when the watched loss ran a ready-made cross-entropy or a graph built in advance."""
    used = sorted(used)
    if any(_runs_graph(name) for name in used):
        fail(
            "The loss runs a graph built in advance (a tf.function, a tf.compat.v1.Session, a tf.data "
            "pipeline or a py_function): write it as a plain function of TensorFlow operations "
            "(tf.nn.softplus, tf.reduce_mean), run at every call; Keras traces it itself when it trains."
        )
    if used:
        fail(
            f"The loss calls {used[0].split('.')[-1]}: build it from the chapter's operations "
            "(tf.nn.softplus, tf.reduce_mean), not from a ready-made weighted cross-entropy."
        )


def _watching(loss_fn: Any, used: set[str]) -> Any:
    """loss_fn under the watcher at every call, its result made a tensor there; refusals go to used."""
    import tensorflow as tf

    def watched_loss(*args: Any) -> Any:
        (kind, value), seen = watched_call(lambda: tf.convert_to_tensor(loss_fn(*args)), refused_names=BCE_REFUSED)
        used.update(seen)
        return _raise_or(kind, value)

    return watched_loss


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
    y, z, expected = BCE_LABELS, BCE_LOGITS, EXPECTED["weighted-bce"]
    used: set[str] = set()
    watched_loss = _watching(loss_fn, used)
    with np.errstate(all="ignore"):
        value = call(watched_loss, tf.constant(y), tf.constant(z), what="the loss function")
        far = call(watched_loss, tf.constant(y), tf.constant(BCE_FAR_LOGITS), what="the loss function")
    _refuse_bce(used)
    value = as_array(value, "the loss")
    if value.size != 1:
        fail(f"The loss function returned {value.size} values: return the mean over the batch, one number.")
    if np.isclose(float(value), expected["weighted"] * len(y), rtol=1e-5):
        fail("The loss is the sum over the batch: return the mean.")
    if np.isclose(float(value), expected["swapped"], rtol=1e-5):
        fail("pos_weight multiplies the negatives' term: it belongs to the positive examples (y = 1).")
    if np.isclose(float(value), expected["plain"], rtol=1e-5):
        fail("Your loss equals the unweighted binary cross-entropy: pos_weight is not used.")
    expect_close(
        float(value), expected["weighted"], "the loss (compared with Keras' weighted binary cross-entropy)", rtol=1e-5
    )

    far = as_array(far, "the loss")
    if not np.all(np.isfinite(far)):
        fail(
            "With logits of +-100 the loss is inf or NaN: in float32, sigmoid(100) is exactly 1 and log(1 - 1) "
            "is -inf. Write both logs through softplus of the logit."
        )
    expect_close(float(far), expected["far"], "the loss for logits of +-100", rtol=1e-5)

    data = load_mnist(train_size=4_000, test_size=2_000, flatten=True)
    y_train = (data.y_train[:3000] == 0).astype("float32")[:, None]
    y_test = (data.y_test == 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(1)])
    try:
        # Keras traces the loss into its training graph: the tracing is watched like the calls above
        train_loss = _watching(call(weighted_binary_crossentropy, 9.0), used)
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=train_loss)
        model.fit(data.x_train[:3000], y_train, batch_size=64, epochs=2, verbose=0)
    except Exception as err:
        _refuse_bce(used)
        fail(f"Training with your loss failed: {type(err).__name__}: {err}")
    _refuse_bce(used)
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


def public_logits(scale: float, seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    """Logits of a calibrated model (labels drawn from its own softmax), multiplied by scale (public inputs)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2.0, size=(n, 5))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(5, p=p) for p in probs])
    return scale * logits, labels


TEMPERATURE_CANDIDATES = (1.0, 0.25, 3.0, 0.5, 10.0)
TEMPERATURE_MODELS = ((3.0, 0, "over-confident"), (0.5, 1, "under-confident"))
# a model under-confident on its first 750 examples (logits x0.4) and over-confident on the next 750
# (x3): one temperature is a compromise, and criteria other than the mean cross-entropy over all
# examples (a calibration error, the Brier score, the first rows only) choose another one
MIXED_CANDIDATES = (1.6, 0.8, 3.2, 2.0, 1.2, 4.0, 2.5)
# the over-confident model (logits x3, best temperature about 3) with two candidates far apart: the
# mean cross-entropy is lopsided in T, so the candidate nearest the best T is not the best candidate
FAR_CANDIDATES = (1.0, 5.2)


def mixed_logits() -> tuple[np.ndarray, np.ndarray]:
    """The public mixed model's logits and labels (750 under-confident rows, then 750 over-confident)."""
    parts = [public_logits(scale, seed, n=750) for scale, seed in ((0.4, 102), (3.0, 2))]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@visible_check("ch02.temperature")
def check_temperature(choose_temperature: Any) -> Verdict:
    """An over-confident model (logits x3) and an under-confident one (logits x0.5), unsorted candidates."""
    candidates = list(TEMPERATURE_CANDIDATES)
    for (scale, seed, kind), exp in zip(TEMPERATURE_MODELS, EXPECTED["temperature"]):
        logits, labels = public_logits(scale, seed)
        got = call(choose_temperature, logits.copy(), labels.copy(), list(candidates), what="choose_temperature")
        if isinstance(got, np.generic):
            got = got.item()
        if got not in candidates:
            fail(f"Return one of the candidates; got {got!r}.")
        divided, multiplied = exp["divided"], exp["multiplied"]
        best = candidates[int(np.argmin(divided))]
        if got == best:
            continue
        if got == candidates[int(np.argmin(multiplied))]:
            fail(
                f"For the {kind} model you chose the candidate that multiplying the logits by T would choose: "
                "do you divide them by T (softmax(z / T))?"
            )
        if got == candidates[0]:
            fail(
                f"For the {kind} model you returned the first candidate. Try every candidate (they are not "
                "sorted), and compare mean cross-entropies: the accuracy is the same for every temperature."
            )
        if got == candidates[int(np.argmax(divided))]:
            fail(
                f"For the {kind} model you returned the temperature with the *highest* mean cross-entropy: "
                "keep the lowest."
            )
        fail(f"For the {kind} model another candidate gives a lower mean cross-entropy on these examples.")
    logits, labels = public_logits(3.0, 0)
    got = call(choose_temperature, logits.copy(), labels.copy(), list(FAR_CANDIDATES), what="choose_temperature")
    if isinstance(got, np.generic):
        got = got.item()
    if got != FAR_CANDIDATES[int(np.argmin(EXPECTED["temperature-far"]))]:
        fail(
            f"For the over-confident model with the candidates {list(FAR_CANDIDATES)}, the other one gives the "
            "lower mean cross-entropy. Compare the candidates' own losses: the loss is not symmetric in T, so "
            "the candidate nearest the best temperature need not be the best candidate."
        )
    logits, labels = mixed_logits()
    candidates = list(MIXED_CANDIDATES)
    got = call(choose_temperature, logits.copy(), labels.copy(), list(candidates), what="choose_temperature")
    if isinstance(got, np.generic):
        got = got.item()
    if got not in candidates:
        fail(f"Return one of the candidates; got {got!r}.")
    if got != candidates[int(np.argmin(EXPECTED["temperature-mixed"]))]:
        fail(
            "For a model that is under-confident on half its examples and over-confident on the other half, "
            "another candidate gives a lower mean cross-entropy. Score every candidate by the mean "
            "cross-entropy over all the examples (not a calibration error, a Brier score or a subset)."
        )
    return Verdict(True, "Right for the over-confident, the under-confident and a mixed public model.")


@visible_check("ch02.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
