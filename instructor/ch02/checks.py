"""Hidden checks for chapter 2, "Loss functions" (instructors only).

The format is chapter 0's (see instructor/ch00/checks.py and the instructors' page): an export
snippet per exercise, run in the student's kernel through the kit's ``_call``, and a judge
per exercise, run in the grader's process against the reference solution's export.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checking import Verdict, fail, kernel_module_source
from course_utils.exercises.ch02 import BCE_REFUSED, LOGADDEXP_REFUSED, XENT_TIME_LIMIT, xent_slow_message
from course_utils.exercises.ch02 import _without_delta as without_delta
from course_utils.grading.kit import (
    QUIZ_EXPORT,
    HiddenCheck,
    each_case,
    mismatch,
    numpy_only,
    quiz_judge,
    refuse_frameworks,
    sibling,
    snippet,
    watched,
)

# Imports every snippet may rely on (the exercise section's first cell imports the same).
PRELUDE = "import numpy as np\nimport tensorflow as tf\nimport keras\n"

RECALL_REQUIRED = 0.75  # the box promises "at least 75 % of the rare digit"

_EXPORT_HUBER_GRAD = numpy_only(
    '''
_rng = np.random.default_rng(21)
_export = {"cases": []}
for _shape, _delta, _scale in [((6,), 5.0, 1.5), ((4, 3), 0.7, 2.0), ((9,), 2.5, 3.0), ((1,), 1.0, 10.0),
                               ((2, 2, 3), 0.3, 1.0)]:
    _yt = _rng.normal(size=_shape)
    _yp = _yt + _scale * _rng.normal(size=_shape)
    _case = _call("huber_loss_and_grad", _yt.copy(), _yp.copy(), _delta)
    _case["n"], _case["delta"] = int(np.prod(_shape)), _delta
    _case["residual"] = _yp - _yt
    _export["cases"].append(_case)
# residuals within 1e-9 of +-delta: a numerical derivative there straddles the kink
_yt = _rng.normal(size=(8,))
_r = 0.8 * np.array([1.0, -1.0, 1.0, -1.0, 0.3, -2.0, 1.0, -1.0]) + np.array([5, 5, -5, -5, 0, 0, 9, -9]) * 1e-10
_yp = _yt + _r
_case = _call("huber_loss_and_grad", _yt.copy(), _yp.copy(), 0.8)
_case["n"], _case["delta"], _case["residual"] = 8, 0.8, _yp - _yt
_export["cases"].append(_case)
''',
    "huber_loss_and_grad",
)

_EXPORT_SPARSE_XENT = numpy_only(
    # the walker and the logaddexp tripwire of the visible check, shipped as source (course_utils.checking)
    kernel_module_source("_walker")
    + '''
def _cases():
    _rng = np.random.default_rng(22)
    _found = []
    for _n, _k, _scale, _spread in [(6, 10, 1.0, 0.0), (5, 4, 50.0, 0.0), (4, 7, 3000.0, 0.0),
                                    (5, 6, 1.0, 1500.0), (1, 3, 2.0, 0.0), (4, 5, 1e5, 0.0),
                                    (5, 4, 3.0, 2e4)]:
        _z = _scale * _rng.normal(size=(_n, _k)) + _spread * np.arange(_n)[:, None]
        _y = _rng.integers(0, _k, size=_n)
        with np.errstate(all="ignore"):
            _case = _call("sparse_softmax_cross_entropy", _z.copy(), _y.copy())
        _case["n"] = _n
        _found.append(_case)
    # a large batch: whole-array NumPy takes milliseconds; exact arithmetic per entry (decimal,
    # fractions, a big-number library) takes minutes and is stopped by the time limit
    _z = 3000.0 * _rng.normal(size=(50000, 100))
    _y = _rng.integers(0, 100, size=50000)
    with np.errstate(all="ignore"):
        _big = _call("sparse_softmax_cross_entropy", _z, _y)
    try:
        _arr = np.asarray(_big["ok"], dtype=float)
        _summary = {"shape": list(_arr.shape), "mean": float(_arr.mean()) if _arr.size else None,
                    "first": _arr.ravel()[:50]}
    except Exception:  # an error (a timeout included), or not an array of numbers
        _summary = {"error": str(_big.get("error", "not an array of numbers"))}
    return _found, _summary
_export = {}
(_export["cases"], _export["big"]), _tripped = _walker.call_without_logaddexp(_cases)
_export["logaddexp"] = bool(_tripped or _walker.uses_logaddexp(globals().get("sparse_softmax_cross_entropy")))
''',
    "sparse_softmax_cross_entropy",
    time_limit=XENT_TIME_LIMIT,
)

_EXPORT_WEIGHTED_BCE = watched(
    '''
from course_utils.data import load_mnist as _load_mnist
def _value(_fn, _y, _z):
    with np.errstate(all="ignore"):
        return _watched(lambda: _plain(_fn(tf.constant(_y), tf.constant(_z))))
def _watching(_fn):
    # the loss under the watcher whenever it runs in Python: when Keras traces it into its training
    # graph (a graph-mode path of the loss is watched too), its result made a tensor there
    def _loss(*_args):
        _r = _watched(lambda: tf.convert_to_tensor(_fn(*_args)))
        if "error" in _r:
            raise RuntimeError(_r["error"])
        return _r["ok"]
    return _loss
_rng = np.random.default_rng(23)
_export = {"cases": []}
for _w, _n, _scale in [(3.0, 8, 2.0), (0.5, 6, 5.0), (9.0, 6, 100.0), (1.0, 5, 30.0)]:
    _y = np.resize([1.0, 0.0, 0.0], (_n, 1)).astype("float32")
    _z = (_scale * _rng.normal(size=(_n, 1))).astype("float32")
    _made = _run("weighted_binary_crossentropy", _w)
    if "error" in _made:
        _case = _made
    elif not callable(_made["ok"]):
        _case = {"error": "weighted_binary_crossentropy should return a loss function"}
    else:
        _case = _value(_made["ok"], _y, _z)
    _case["n"] = _n
    _export["cases"].append(_case)
_data = _load_mnist(train_size=4000, test_size=2000, seed=8, flatten=True)
_y_train = (_data.y_train[:3000] == 8).astype("float32")[:, None]
_export["labels"] = (_data.y_test == 8).astype("int64")
_made = _run("weighted_binary_crossentropy", 9.0)
if "error" in _made or not callable(_made.get("ok")):
    _export["train_error"] = _made.get("error", "weighted_binary_crossentropy should return a loss function")
else:
    try:
        keras.utils.set_random_seed(31)
        _model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(1)])
        _model.compile(optimizer=keras.optimizers.SGD(0.05), loss=_watching(_made["ok"]))
        _model.fit(_data.x_train[:3000], _y_train, batch_size=64, epochs=2, verbose=0)
        _logits = _model.predict(_data.x_test, verbose=0)[:, 0]
        _export["finite"] = bool(np.isfinite(_logits).all())
        _export["predicted"] = (_logits > 0).astype("int64")
    except Exception as _err:
        _export["train_error"] = f"{type(_err).__name__}: {_err}"
''',
    None,
    BCE_REFUSED,
)

_EXPORT_TEMPERATURE = snippet('''
_rng = np.random.default_rng(24)
def _model_logits(_n, _k, _scale, _informative=True):
    _base = _rng.normal(0, 2.0, size=(_n, _k))
    _p = np.exp(_base - _base.max(axis=1, keepdims=True))
    _p /= _p.sum(axis=1, keepdims=True)
    _labels = np.array([_rng.choice(_k, p=_row) for _row in _p]) if _informative else _rng.integers(0, _k, _n)
    return _scale * _base, _labels
_export = {"cases": []}
for _n, _k, _scale, _informative, _cands in [
        (1500, 6, 2.5, True, [1.0, 4.0, 0.5, 2.5, 1.5]),
        (1500, 4, 0.4, True, [0.2, 1.0, 0.4, 2.0, 0.7]),
        (1500, 8, 1.0, True, [2.0, 0.5, 1.0]),
        (800, 5, 1.0, False, [1.0, 100.0, 10.0]),
        (300, 3, 1.0, True, [3.0]),
        # candidates close together around the best one: another criterion (the calibration
        # error, confidence against accuracy, the Brier score) or a subset of the examples
        # lands on a neighbour
        (3000, 10, 2.5, True, [2.3, 2.4, 2.5, 2.6, 2.7, 2.8]),
        (3000, 5, 0.5, True, [0.56, 0.52, 0.48, 0.44, 0.6]),
        (3000, 7, 1.6, True, [1.45, 1.55, 1.65, 1.75, 1.85]),
        # the first 400 examples carry no information: the whole set must decide
        (2000, 6, 1.5, "first rows", [1.0, 1.5, 3.0, 8.0, 20.0]),
        # over-confident on its first half, under-confident on the second: one temperature is a
        # compromise, which the calibration error, the Brier score or the first rows put elsewhere
        (1600, 6, "mixed", True, [1.1, 2.2, 0.9, 1.4, 1.8, 3.0, 0.7]),
        # two candidates far apart around the best T (about 2.5): the nearer one, 1.2, loses
        (3000, 8, 2.5, True, [1.2, 4.1])]:
    if _scale == "mixed":
        _parts = [_model_logits(_n // 2, _k, _s) for _s in (3.5, 0.35)]
        _z, _y = np.concatenate([_parts[0][0], _parts[1][0]]), np.concatenate([_parts[0][1], _parts[1][1]])
    else:
        _z, _y = _model_logits(_n, _k, _scale, _informative is True)
    if _informative == "first rows":
        _z2, _y2 = _model_logits(_n - 400, _k, _scale)
        _z, _y = np.concatenate([_z[:400], _z2]), np.concatenate([_y[:400], _y2])
    _case = _call("choose_temperature", _z.copy(), _y.copy(), list(_cands))
    _case["candidates"] = list(_cands)
    # the choice of the usual mistake, logits multiplied by T (not the expected value: that is never computed here)
    _times = [_z * _t for _t in _cands]
    _lse = [np.log(np.exp(_m - _m.max(1, keepdims=True)).sum(1)) + _m.max(1) for _m in _times]
    _xent = [np.mean(_l - _m[np.arange(len(_y)), _y]) for _l, _m in zip(_lse, _times)]
    _case["if_multiplied"] = _cands[int(np.argmin(_xent))]
    _export["cases"].append(_case)
''')

_EXPORT_QUIZ = QUIZ_EXPORT


LACKS_DELTA = (
    "Beyond delta your loss or gradient forgets delta: the linear piece is delta * (|r| - delta / 2) "
    "and its slope delta * sign(r)."
)


def judge_huber_grad(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Matrices, vectors, a 3-D array, deltas from 0.3 to 5 (one case entirely quadratic), one entry,
    residuals within 1e-9 of +-delta (where a numerical derivative straddles the kink)."""
    refuse_frameworks(student, "huber_loss_and_grad")
    for i, got, exp in each_case(student, reference, "huber_loss_and_grad"):
        if not isinstance(got, list) or len(got) != 2:
            fail("huber_loss_and_grad should return a pair (loss, grad).")
        if any(isinstance(part, dict) for part in got):
            fail("huber_loss_and_grad should return numbers: a float loss and a NumPy gradient.")
        loss, grad = np.asarray(got[0], dtype=float), np.asarray(got[1], dtype=float)
        exp_loss, exp_grad = float(exp["ok"][0]), np.asarray(exp["ok"][1], dtype=float)
        if loss.size != 1:
            fail(f"Hidden case {i}: the loss should be one number, the mean over all entries.")
        if grad.shape != exp_grad.shape:
            fail(f"Hidden case {i}: the gradient should have the shape of y_pred.")
        if exp["n"] > 1 and np.allclose(grad, exp_grad * exp["n"], atol=1e-9):
            fail("The gradient is too large by the number of entries: the loss is a mean.")
        if np.allclose(grad, -exp_grad, atol=1e-9) and np.any(exp_grad != 0):
            fail("The gradient has the wrong sign: it is taken with respect to y_pred.")
        r, delta = np.asarray(exp["residual"], dtype=float), float(exp["delta"])
        outside = np.abs(r) > delta
        hint = mismatch(float(loss), exp_loss, f"the loss in hidden case {i}", rtol=1e-7, atol=1e-10)
        if hint is not None:
            if delta != 1.0 and any(np.isclose(float(loss), v, rtol=1e-7, atol=1e-10) for v in without_delta(r, delta)):
                fail(LACKS_DELTA)
            # the same advice whatever the hidden residuals are, so that it tells nothing about them
            fail(hint + " Check both pieces: 0.5 * r**2 up to |r| = delta, delta * (|r| - delta / 2) beyond.")
        hint = mismatch(grad, exp_grad, f"the gradient in hidden case {i}", rtol=1e-7, atol=1e-10)
        if hint is not None:
            if np.allclose(np.where(outside, grad * delta, grad), exp_grad, rtol=1e-7, atol=1e-10):
                fail(LACKS_DELTA)
            fail(hint)
    return Verdict(True, "Loss and gradient correct on all hidden cases.")


def judge_sparse_xent(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Logits of growing scale up to 1e5, rows offset by 1500 or 2e4 from each other, one example."""
    refuse_frameworks(student, "sparse_softmax_cross_entropy")
    if student.get("logaddexp") is not False:  # absent: the export was tampered with
        fail(LOGADDEXP_REFUSED)
    for i, got, exp in each_case(student, reference, "sparse_softmax_cross_entropy"):
        got, expected = np.asarray(got, dtype=float), np.asarray(exp["ok"], dtype=float)
        if got.size == 1 and exp["n"] > 1:
            fail("You return one number: return one loss per example, an array of shape (n,).")
        if got.shape == expected.shape and not np.all(np.isfinite(got)):
            fail(
                f"Hidden case {i}: the losses contain inf or NaN. Large logits overflow np.exp, and rows far "
                "apart need their own maximum each."
            )
        hint = mismatch(got, expected, f"the losses in hidden case {i}", rtol=1e-7, atol=1e-9)
        if hint is not None:
            fail(hint)
    big, expected = student.get("big"), reference["big"]
    if not isinstance(big, dict):
        fail("sparse_softmax_cross_entropy: the hidden check could not read your result on the large batch.")
    if str(big.get("error", "")).startswith("TimeoutError"):
        fail(xent_slow_message())
    if "error" in big:
        fail(f"sparse_softmax_cross_entropy failed on the hidden large batch: {str(big['error'])[:200]}")
    if big.get("shape") != expected["shape"]:
        fail("On the hidden large batch, return one loss per example, an array of shape (n,).")
    if big.get("mean") is None or not np.isfinite(big["mean"]):
        fail("On the hidden large batch the losses contain inf or NaN: give every row its own maximum.")
    if mismatch(big["first"], expected["first"], rtol=1e-7, atol=1e-9) is not None or not np.isclose(
        big["mean"], expected["mean"], rtol=1e-7
    ):
        fail("sparse_softmax_cross_entropy is right on the small hidden cases but not on the hidden large batch.")
    return Verdict(True, "Correct on all hidden cases, huge logits, rows far apart and a large batch included.")


def judge_weighted_bce(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Values for several weights and logit scales up to 100, then recall of a detector trained with it."""
    refuse_frameworks(
        student,
        "the loss function",
        "The loss calls a ready-made (weighted) cross-entropy of TensorFlow or Keras, or runs a graph built "
        "in advance (a tf.function, a tf.compat.v1.Session, a tf.data pipeline or a py_function): build it as "
        "a plain function of the chapter's operations (tf.nn.softplus, tf.reduce_mean).",
    )
    for i, got, exp in each_case(student, reference, "the loss function"):
        value, expected = np.asarray(got, dtype=float), np.asarray(exp["ok"], dtype=float)
        if value.size != 1:
            fail("The loss function should return one number, the mean over the batch.")
        if not np.all(np.isfinite(value)):
            fail(f"Hidden case {i}: the loss is inf or NaN for large logits. Write both logs through softplus.")
        if np.isclose(float(value), float(expected) * exp["n"], rtol=1e-5):
            fail("The loss is the sum over the batch: return the mean.")
        hint = mismatch(float(value), float(expected), f"the loss in hidden case {i}", rtol=1e-5, atol=1e-6)
        if hint is not None:
            fail(hint + " Does pos_weight multiply only the positive examples' term?")
    if student.get("train_error"):
        fail(f"Training a model with your loss failed: {student['train_error']}")
    if not student.get("finite"):
        fail("Training with your loss produced NaN outputs.")
    labels = np.asarray(reference["labels"]).astype(bool)
    predicted = np.asarray(student.get("predicted")).astype(bool)
    if predicted.shape != labels.shape:
        fail("The hidden check could not read the trained model's predictions.")
    recall = float(np.sum(predicted & labels) / labels.sum())
    if recall < RECALL_REQUIRED:
        fail(
            f"Trained with your loss and pos_weight=9, the detector finds {recall:.0%} of the rare digit; at least "
            f"{RECALL_REQUIRED:.0%} is required. Does the weight reach the positive examples?"
        )
    if np.mean(predicted) > 0.5:
        fail("The trained detector flags most images as the rare digit: check the negative examples' term.")
    return Verdict(True, f"Correct values; the detector trained with your loss finds {recall:.0%} of the rare digit.")


def judge_temperature(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Over-, under- and well-calibrated models, an uninformative one, unsorted candidates, a single candidate."""
    for i, got, exp in each_case(student, reference, "choose_temperature"):
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            fail(f"Hidden case {i}: return one of the candidates, a number.")
        if got == exp["ok"]:
            continue
        if got not in exp["candidates"]:
            fail(f"Hidden case {i}: return one of the candidates you are given.")
        # where multiplying would also pick the first candidate (leave the logits alone), that choice
        # tells neither mistake apart: the generic hint
        if got == exp["if_multiplied"] and got != exp["candidates"][0]:
            fail(
                f"Hidden case {i}: you chose the candidate that multiplying the logits by T would choose: do you "
                "divide them by T (softmax(z / T))?"
            )
        if got == exp["candidates"][0] and got != exp["if_multiplied"]:
            fail(
                f"Hidden case {i}: you returned the first candidate. The accuracy is the same for every "
                "temperature; compare the mean cross-entropy."
            )
        fail(
            f"Hidden case {i}: another candidate gives a lower mean cross-entropy. Divide the logits by T, try "
            "every candidate (they are not sorted), and keep the lowest loss."
        )
    return Verdict(True, "The right temperature on all hidden models.")


judge_quiz = quiz_judge(
    {
        "q1": "A residual of 5 lies beyond delta = 2, in the linear piece: delta * (|r| - delta / 2) = "
        "2 * (5 - 1) = 8. The quadratic piece would give 12.5, MAE 5 and Huber with delta = 1 gives 4.5; the "
        "pieces are built to meet with the same value and slope at |r| = delta.",
        "q2": "With reduction='sum' the loss of a batch adds up its per-example losses, so its gradient adds up "
        "128 per-example gradients instead of 32: four times as many terms, a gradient up to four times "
        "larger (exactly four times for its part that all examples share). Plain SGD steps by the learning "
        "rate times the gradient, so the steps grow as if the learning rate had been raised. The sum and the "
        "mean share their minimum, but SGD's path depends on the gradient's size; Keras does not divide a "
        "summed loss by the batch size; and with the default mean the batch size would not scale the step "
        "this way.",
        "q3": "When one image in twenty is a 0, the constant answer 'not a 0' is already 95 % accurate while "
        "finding no zero at all, so 93 % is worse than doing nothing. Accuracy is not the share of zeros found "
        "(that is recall), and a high accuracy does not mean that few zeros are missed: missing every zero "
        "costs only 5 % of accuracy here. Compare with the majority-class baseline, not with 50 %, and look "
        "at precision and recall.",
        "q4": "Label smoothing mixes the one-hot target with the uniform distribution: (1 - 0.1) * 1 + 0.1 / 10 "
        "= 0.91 for the true class, and 0.1 / 10 = 0.01 for each of the other nine classes.",
        "q5": "Bars below the diagonal mean that the accuracy in those bins is lower than the confidence: the "
        "model is over-confident, the usual state of large networks trained long. Under-confidence would put "
        "the bars above the diagonal. Calibration and accuracy are different properties.",
    }
)


_answers = sibling(__file__, "solutions")  # this chapter's reference and wrong answers

# One record per exercise: the only place in the hidden tree where its id is typed.
CHECKS = [
    HiddenCheck("ch02.huber-grad", 2, _EXPORT_HUBER_GRAD, judge_huber_grad, _answers.HUBER_GRAD),
    HiddenCheck("ch02.sparse-xent", 2, _EXPORT_SPARSE_XENT, judge_sparse_xent, _answers.SPARSE_XENT),
    HiddenCheck("ch02.weighted-bce", 2, _EXPORT_WEIGHTED_BCE, judge_weighted_bce, _answers.WEIGHTED_BCE),
    HiddenCheck("ch02.temperature", 2, _EXPORT_TEMPERATURE, judge_temperature, _answers.TEMPERATURE),
    HiddenCheck("ch02.quiz", 2, _EXPORT_QUIZ, judge_quiz, _answers.QUIZ),
]
