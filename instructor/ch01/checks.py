"""Hidden checks for chapter 1, "Gradients and backpropagation" and its part 2 (instructors only).

The format is chapter 0's (see instructor/ch00/checks.py and the instructors' page): an export
snippet per exercise, run in the student's kernel through the kit's ``_call``, and a judge
per exercise, run in the grader's process against the reference solution's export.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checking import Verdict, fail
from course_utils.exercises.ch01 import BRIER_TIME_LIMIT, FIT_REFUSED, _brier_slow, fit_refusal
from course_utils.grading.kit import (
    QUIZ_EXPORT,
    HiddenCheck,
    each_case,
    mismatch,
    numpy_only,
    ok,
    quiz_judge,
    refuse_frameworks,
    sibling,
    snippet,
    watched,
)

# Imports every snippet may rely on (the exercise section's first cell imports the same).
PRELUDE = "import numpy as np\nimport tensorflow as tf\nimport keras\n"

_EXPORT_CENTRAL_DIFFERENCE = snippet('''
_rng = np.random.default_rng(11)
_A = _rng.normal(size=(3, 4))
def _f(x):
    x = np.asarray(x, dtype=float)
    return float(np.sum(np.sin(x) * x**2) + np.sum(_A.ravel() * x.ravel()) ** 2 / 10)
_export = {"cases": []}
_B = _rng.normal(size=(2, 3, 2))
def _g(x):  # a vector-valued function of a (3, 2) array: 2 x 3 outputs
    x = np.asarray(x, dtype=float)
    return np.tanh(np.einsum("ijk,jk->ij", _B, x)) + x[:, 0] ** 2
for _fn, _x, _h in [(_f, _rng.normal(size=(3, 4)), 1e-5), (_f, _rng.normal(size=(3, 4)), 0.05),
                    (_f, _rng.normal(size=12), 1e-3), (_g, _rng.normal(size=(3, 2)), 1e-4)]:
    _x_before = _x.copy()
    _case = _call("central_difference", _fn, _x, _h)
    _case["modified_x"] = bool(not np.array_equal(_x, _x_before))
    _export["cases"].append(_case)
''')

_EXPORT_BRIER_GRAD = numpy_only(
    '''
_rng = np.random.default_rng(12)
_export = {"cases": []}
_shared = 3.0 * _rng.normal(size=(4, 6))  # cases 5 and 6: the same logits, smoothing 0 and 0.3
_near = 900.0 + _rng.normal(size=(3, 5))  # large logits close to each other: no saturated softmax
for _z, _s in [(_rng.normal(size=(6, 10)), 0.1), (30.0 * _rng.normal(size=(4, 3)), 0.0),
               (_near, 0.25), (2.0 * _rng.normal(size=(1, 4)), 0.05),
               (_shared, 0.0), (_shared, 0.3)]:
    _y = _rng.integers(0, _z.shape[1], size=len(_z))
    if _z is _shared:
        _y = np.arange(len(_z)) % _z.shape[1]
    with np.errstate(all="ignore"):
        _case = _call("brier_score_grad", _z.astype("float64"), _y.copy(), _s)
    _case["n"], _case["smoothing"] = len(_z), _s
    _export["cases"].append(_case)
# a large batch: 1,536 examples over 3,000 classes, a few rows with logits in the hundreds. A
# numerical derivative per entry cannot finish within the time limit; only a summary is exported.
_z = 3.0 * _rng.normal(size=(1536, 3000))
_z[::101] *= 250.0
_y = _rng.integers(0, 3000, size=1536)
_w = _rng.normal(size=_z.shape)
with np.errstate(all="ignore"):
    _big = _call("brier_score_grad", _z, _y, 0.15)
if "ok" in _big:
    _g = _big["ok"]
    if isinstance(_g, np.ndarray) and _g.shape == _z.shape:
        _big["ok"] = {"finite": bool(np.all(np.isfinite(_g))), "weighted": float(np.sum(_g * _w)),
                      "rows": _g[1:4], "row_sums": float(np.abs(_g.sum(axis=1)).max())}
    else:
        _big["ok"] = {"shape": list(np.shape(_g))}
_export["big"] = _big
''',
    "brier_score_grad",
    time_limit=BRIER_TIME_LIMIT,
)

_EXPORT_STABLE_LR = snippet('''
_rng = np.random.default_rng(13)
_R, _ = np.linalg.qr(_rng.normal(size=(3, 3)))
_Q = _R @ np.diag([0.5, 4.0, 9.0]) @ _R.T
_m = _rng.normal(size=3)
_cases = [
    (lambda x: _Q @ (x - _m), _rng.normal(size=3), [0.01, 0.05, 0.15, 0.3, 0.6], 100),
    (lambda x: np.array([1.0, 10.0]) * x, np.array([1.0, 0.001]), [0.05, 0.21, 0.1], 100),
    (lambda x: 100.0 * x, np.array([0.7]), [0.05, 0.1], 100),
    (lambda x: x**3 + x, np.array([1.5, -1.0]), [0.8, 0.1, 0.4, 0.2], 100),
    (lambda x: 2.0 * x, np.array([3.0, -1.0]), [0.3], 100),
    # a slow divergence from a tiny steep coordinate: stable in 15 steps, not in 150 or 400
    (lambda x: np.array([2.0, 8.0]) * x, np.array([1.0, 1e-5]), [0.1, 0.26, 0.2], 15),
    (lambda x: np.array([2.0, 8.0]) * x, np.array([1.0, 1e-5]), [0.1, 0.26, 0.2], 150),
    (lambda x: np.array([1.0, 20.0]) * x, np.array([1.0, 1e-8]), [0.02, 0.104, 0.09], 400),
]
_export = {"cases": []}
for _grad, _x0, _candidates, _steps in _cases:
    with np.errstate(all="ignore"):
        _case = _call("largest_stable_lr", _grad, _x0.copy(), list(_candidates), _steps)
    _export["cases"].append(_case)
''')

_EXPORT_FIX_TRAINING_LOOP = watched(
    '''
_rng = np.random.default_rng(14)
_k, _d = 4, 10
_centers = _rng.normal(0.0, 1.2, size=(_k, _d))
def _blobs(n):
    _labels = _rng.integers(0, _k, size=n)
    return (_centers[_labels] + _rng.normal(size=(n, _d))).astype("float32"), _labels
_x, _y = _blobs(800)
_x_test, _y_test = _blobs(400)
keras.utils.set_random_seed(5)
_init = keras.Sequential([keras.Input((_d,)), keras.layers.Dense(_k)]).get_weights()
_export = {"labels": _y_test, "init": _init}
def _trained(*args):
    _result = _watched(lambda: _run("train_softmax_regression", *args))
    return _result["ok"] if "ok" in _result else _result
_one = _trained(_x, _y, 1, len(_x), 0.3, 5)    # one full-batch step
_epoch = _trained(_x, _y, 1, 96, 0.2, 7)       # one epoch of 9 batches, the last one short
_two = _trained(_x, _y, 2, 96, 0.2, 7)         # two epochs: a new permutation for each
_full = _trained(_x, _y, 4, 32, 0.1, 6)
for _name, _result in [("one_step", _one), ("one_epoch", _epoch), ("two_epochs", _two), ("trained", _full)]:
    if "error" in _result:
        _export["error"] = _result["error"]
    elif not isinstance(_result["ok"], keras.Model):
        _export["error"] = f"the function should return the Keras model, got {type(_result['ok']).__name__}"
if "error" not in _export:
    _export["one_step"] = _one["ok"].get_weights()
    _export["one_epoch"] = _epoch["ok"].get_weights()
    _export["two_epochs"] = _two["ok"].get_weights()
    _export["predicted"] = np.asarray(_full["ok"](_x_test)).argmax(axis=-1)
''',
    None,
    refused_names=FIT_REFUSED,
)

_EXPORT_QUIZ = QUIZ_EXPORT


def judge_central_difference(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Three hidden points of a non-separable function, matrices and a vector, three step sizes."""
    for i, got, exp in each_case(student, reference, "central_difference"):
        if student["cases"][i - 1]["modified_x"]:
            fail("central_difference changes the caller's x; work on a copy.")
        hint = mismatch(got, exp["ok"], f"the gradient in hidden case {i}", rtol=1e-6, atol=1e-8)
        if hint is not None:
            fail(hint + (" Is the step h you are given used?" if i == 2 else ""))
    return Verdict(True, "Correct on all hidden cases.")


def judge_brier_grad(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Random logits of growing scale, large logits close together, smoothing 0 to 0.3, a one-example
    batch, then 1,536 x 3,000 logits within the time limit; NumPy only."""
    refuse_frameworks(student, "brier_score_grad")
    name = "brier_score_grad"
    answers = {}
    for i, got, exp in each_case(student, reference, name):
        got, expected = np.asarray(got, dtype=float), np.asarray(exp["ok"], dtype=float)
        answers[i] = got
        same = got.shape == expected.shape
        if same and not np.all(np.isfinite(got)):
            fail(
                "The gradient contains NaN or inf for large logits: exp overflows. Subtract each row's "
                "maximum before exponentiating; softmax does not change."
            )
        if same and exp["n"] > 1 and np.allclose(got, expected * exp["n"], atol=1e-9):
            fail("The gradient is n times too large: the loss is the *mean* over the batch, so divide by n.")
        if same and np.allclose(got, expected / 2, atol=1e-12) and not np.allclose(expected, 0, atol=1e-12):
            fail("The gradient is half the right one: the derivative of a square (p - q)^2 is 2 (p - q).")
        if i == 6 and got.shape == answers[5].shape and np.allclose(got, answers[5], atol=1e-12):
            fail(
                "Hidden cases 5 and 6 have the same logits and labels, with smoothing 0 and 0.3, and your "
                "gradients are the same: the argument smoothing is ignored."
            )
        if same and np.abs(got.sum(axis=1)).max() > 1e-9:
            fail(
                f"In hidden case {i} a row of your gradient does not sum to 0. Adding the same number to "
                "every logit of a row leaves softmax unchanged, so the gradient of any loss of the "
                "probabilities sums to 0 over a row: is the derivative of softmax complete?"
            )
        hint = mismatch(got, expected, f"the gradient in hidden case {i}", rtol=1e-9, atol=1e-13)
        if hint is not None:
            fail(hint)
    big, expected = student.get("big"), reference["big"]["ok"]
    if isinstance(big, dict) and str(big.get("error", "")).startswith("TimeoutError"):
        fail(_brier_slow(name))
    got = ok(big, name)
    if not isinstance(got, dict) or "weighted" not in got:
        fail(f"{name} does not return an array shaped like the logits on the hidden large batch.")
    if not got["finite"]:
        fail("On the hidden large batch the gradient contains NaN or inf: subtract each row's maximum first.")
    if mismatch(got["rows"], expected["rows"], rtol=1e-9, atol=1e-15) is not None or not np.isclose(
        got["weighted"], expected["weighted"], rtol=1e-9, atol=1e-15
    ):
        fail(f"{name} is right on the small hidden cases but not on the hidden large batch.")
    return Verdict(True, "Correct on all hidden cases, large logits, several smoothings and a large batch included.")


def judge_stable_lr(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Rotated and diagonal quadratics, unsorted candidates, a slow divergence, a non-quadratic, none stable."""
    for i, got, exp in each_case(student, reference, "largest_stable_lr", allow_none=True):
        exp = exp["ok"]
        if not (got is None or isinstance(got, (int, float))):
            fail(f"Hidden case {i}: return one of the candidates (a number) or None, got {got!r}.")
        if got == exp:
            continue
        if exp is None:
            fail(f"Hidden case {i}: every candidate diverges, so the answer is None; you returned {got!r}.")
        if got is None:
            fail(f"Hidden case {i}: you returned None, but some candidates are stable.")
        if i >= 6 and isinstance(got, (int, float)):
            fail(
                f"Hidden case {i}: the runs of this case have another number of steps, and a slow divergence "
                "shows only in a long run: use the argument steps."
            )
        if isinstance(got, (int, float)) and got > exp:
            fail(
                f"Hidden case {i}: you chose a learning rate that diverges over the full run. A rate can "
                "shrink the gradient for a few steps and still blow up later: judge it after all the steps."
            )
        fail(
            f"Hidden case {i}: a larger candidate is also stable. Try every candidate (they need not be "
            "sorted) and return the largest stable one."
        )
    return Verdict(True, "Correct on all hidden functions.")


def judge_fix_training_loop(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """One full-batch step and one epoch of mini-batches against the reference, then accuracy; no fit."""
    used = student.get("frameworks") if isinstance(student, dict) else None
    if isinstance(used, list) and used and all(isinstance(u, str) for u in used):
        fail(fit_refusal(used))
    refuse_frameworks(student, "train_softmax_regression")  # fails closed on a missing or forged list
    if student.get("error"):
        fail(f"train_softmax_regression could not be graded: {student['error']}")
    init = [np.asarray(w) for w in reference["init"]]
    step, expected = student.get("one_step"), reference["one_step"]
    if (
        not isinstance(step, list)
        or len(step) != len(expected)
        or any(np.shape(s) != np.shape(e) for s, e in zip(step, expected))
    ):
        fail(
            "The model's weights have other shapes than the buggy version's: keep its model and only fix the training."
        )
    uphill = [2 * w0 - e for w0, e in zip(init, expected)]
    if all(mismatch(s, u, rtol=1e-4, atol=1e-6) is None for s, u in zip(step, uphill)):
        fail("After one step the loss went up: an update must subtract lr times the gradient.")
    if not all(mismatch(s, e, rtol=1e-3, atol=1e-6) is None for s, e in zip(step, expected)):
        fail(
            "One full-batch step does not match SGD on the mean cross-entropy. A single step depends on "
            "two things: which label goes with which image, and what the loss assumes about the model's "
            "outputs (its last layer has no softmax)."
        )
    epoch, expected = student.get("one_epoch"), reference["one_epoch"]
    if not isinstance(epoch, list) or not all(
        np.shape(s) == np.shape(e) and mismatch(s, e, rtol=1e-3, atol=1e-5) is None for s, e in zip(epoch, expected)
    ):
        fail(
            "A full-batch step is right, but one epoch of mini-batches does not match SGD over the batches "
            "in the required order: one rng.permutation per epoch with rng = np.random.default_rng(seed), "
            "consecutive slices of it, each image with its own label."
        )
    two, expected = student.get("two_epochs"), reference["two_epochs"]
    if not isinstance(two, list) or not all(
        np.shape(s) == np.shape(e) and mismatch(s, e, rtol=1e-3, atol=1e-5) is None for s, e in zip(two, expected)
    ):
        fail(
            "One epoch is right, but two epochs do not match SGD: run `epochs` epochs, each with a new "
            "rng.permutation of the same generator (drawn once per epoch, not once for the whole run)."
        )
    labels = np.asarray(reference["labels"])
    acc = float(np.mean(np.asarray(student["predicted"]) == labels))
    ref_acc = float(np.mean(np.asarray(reference["predicted"]) == labels))
    if acc < ref_acc - 0.05:
        fail(
            f"Each step is right, but after training the accuracy on hidden points is only {acc:.0%}. "
            "Does every batch of images come with its own labels?"
        )
    return Verdict(True, f"Fixed: the steps match SGD and the model reaches {acc:.0%} on hidden points.")


judge_quiz = quiz_judge(
    {
        "q1": "For f(x) = 3x^2 the update is x <- x - lr * 6x = (1 - 6 lr) x. It shrinks only while "
        "|1 - 6 lr| < 1, that is lr < 2/6 = 1/3: the threshold is 2 over the curvature f'' = 6, not 1 over it. "
        "Between 1/6 and 1/3 the iterates overshoot and alternate in sign, but still converge.",
        "q2": "A loss that jumps and then turns into NaN is the signature of steps that are too large: the "
        "weights overshoot into a region where the loss and its gradient explode. A smaller learning "
        "rate or a cap on the gradient's norm fixes the cause. float64 only postpones the overflow by a "
        "few steps, a larger batch reduces noise but not the size of a step, and one image cannot "
        "make a correctly sized step explode.",
        "q3": "An epoch visits every example once: 48,000 / 512 = 93.75 updates per epoch instead of 1,500, so "
        "15,000 updates take 160 epochs. Each mini-batch gradient is the mean, not the sum, of its examples' "
        "gradients: still an unbiased estimate of the full gradient, with a variance 16 times smaller, and a "
        "step of the same typical size. The batch size changes the number of updates per epoch (not only the "
        "memory), and 0.625 epochs inverts the ratio.",
        "q4": "Each step multiplies the coordinate x2 by 1 - lr * lambda2 = 1 - 0.03 * 50 = -0.5: it flips "
        "sign and halves at every step, so it still converges. x1 is multiplied by 0.97.",
        "q5": "An RMS gradient of 3e-3 in the first layer against 5e-3 in the last is no vanishing gradient: "
        "in part 2 the first layer's RMS gradient is orders of magnitude below the last one's in the sigmoid "
        "network, and of the same order in the ReLU network with He initialization, as here. The gradient "
        "reaches every layer; at a rate of 1e-4 the steps are just small, and the run crawls like the small "
        "rates of part 1. Sigmoid units would make the gradient vanish, Glorot initialization makes all of a "
        "ReLU network's gradients smaller (part 2), and clipping the norm to 1 changes only gradients whose "
        "norm is above 1, and then scales all layers alike.",
    }
)


_answers = sibling(__file__, "solutions")  # this chapter's reference and wrong answers

# One record per exercise: the only place in the hidden tree where its id is typed.
CHECKS = [
    HiddenCheck(
        "ch01.central-difference", 1, _EXPORT_CENTRAL_DIFFERENCE, judge_central_difference, _answers.CENTRAL_DIFFERENCE
    ),
    HiddenCheck("ch01.brier-grad", 2, _EXPORT_BRIER_GRAD, judge_brier_grad, _answers.BRIER_GRAD),
    HiddenCheck("ch01.stable-lr", 2, _EXPORT_STABLE_LR, judge_stable_lr, _answers.STABLE_LR),
    HiddenCheck(
        "ch01.fix-training-loop", 2, _EXPORT_FIX_TRAINING_LOOP, judge_fix_training_loop, _answers.FIX_TRAINING_LOOP
    ),
    HiddenCheck("ch01.quiz", 2, _EXPORT_QUIZ, judge_quiz, _answers.QUIZ),
]
