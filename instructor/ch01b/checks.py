"""Hidden checks for chapter 1, part 2, "Gradient descent in practice" (instructors only).

The format is chapter 0's (see instructor/ch00/checks.py and the instructors' page): an export
snippet per exercise, run in the student's kernel through the kit's ``_call``, and a judge
per exercise, run in the grader's process against the reference solution's export.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checking import CheckFailed, Verdict, fail
from course_utils.exercises.ch01b import FIT_REFUSED, fit_refusal
from course_utils.grading.kit import (
    QUIZ_EXPORT,
    HiddenCheck,
    each_case,
    mismatch,
    quiz_judge,
    refuse_frameworks,
    sibling,
    snippet,
    watched,
)

# Imports every snippet may rely on (the exercise section's first cell imports the same).
PRELUDE = "import numpy as np\nimport tensorflow as tf\nimport keras\n"

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
    # the minimum far from the origin, x0 at or near the origin: the size of x says nothing
    (lambda x: np.array([1.0, 10.0]) * (x - np.array([4.0, -3.0])), np.zeros(2), [0.05, 0.25, 0.15], 100),
    (lambda x: _Q @ (x - 4.0 * _m), 0.01 * _rng.normal(size=3), [0.3, 0.01, 0.15, 0.05], 100),
    # a short run that grows the gradient after its first step but ends below its start
    (lambda x: np.array([1.0, 10.0]) * (x - np.array([5.0, -0.098])), np.zeros(2), [0.05, 0.21, 0.15], 15),
    # Rosenbrock's valley (case 12): at 0.035 the gradient's norm rises to about five times its
    # start on the way and ends far below it; a rule that judges every step rejects that rate
    (lambda x: np.array([-2.0 * (1 - x[0]) - 40.0 * x[0] * (x[1] - x[0] ** 2), 20.0 * (x[1] - x[0] ** 2)]),
     np.array([-1.0, 1.0]), [0.02, 0.035, 0.01, 0.03], 60),
    # a slow divergence that crosses the starting norm between steps 131 and 132 (cases 13, 14):
    # one step more or one step less than `steps` (or the last gradient used) flips the verdict
    (lambda x: np.array([2.0, 8.0]) * x, np.array([1.0, 1e-5]), [0.1, 0.26, 0.2], 131),
    (lambda x: np.array([2.0, 8.0]) * x, np.array([1.0, 1e-5]), [0.1, 0.26, 0.2], 132),
    # a narrow, very steep ridge between x0 and the minimum (case 15): every rate crosses it, the
    # gradient's norm jumps to up to 500,000 times its start and the stable rates still end below
    # it; a rule that stops at some multiple of the start rejects them
    (lambda x: x * (1.0 + 1e6 * np.exp(-(((x - 0.5) / 0.05) ** 2))), np.array([1.0]), [0.3, 0.5, 2.5, 0.05], 40),
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
_bugs = globals().get("bugs")
_export["bugs"] = (sorted({str(_b).strip().upper()[:3] for _b in _bugs})
                   if isinstance(_bugs, (set, frozenset, list, tuple)) and len(_bugs) <= 8 else None)
''',
    None,
    refused_names=FIT_REFUSED,
)

_EXPORT_QUIZ = QUIZ_EXPORT


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
        if i in (6, 7, 8) and isinstance(got, (int, float)) and got > exp:
            fail(
                f"Hidden case {i}: the runs of this case have another number of steps, and a slow divergence "
                "shows only in a long run: use the argument steps."
            )
        if i in (6, 7, 8) and isinstance(got, (int, float)):
            fail(
                f"Hidden case {i}: you rejected a rate that is stable over this case's `steps` steps. "
                "Stability is judged once, after the last step (the gradient's norm then against its norm "
                "at x0), not at every step; and the run has exactly `steps` steps."
            )
        if i in (12, 15) and isinstance(got, (int, float)) and got < exp:
            fail(
                f"Hidden case {i}: you rejected a rate whose gradient's norm rose above its start on the way "
                "but ended below it: stability is judged once, after the last step, not at every step."
            )
        if i in (13, 14) and isinstance(got, (int, float)):
            fail(
                f"Hidden case {i}: here the verdict of one rate changes between one step and the next near "
                "the end of the run: run exactly `steps` steps, then compare the gradient at the final point "
                "(not the last gradient used for a step) with its norm at x0."
            )
        if i >= 9 and isinstance(got, (int, float)) and got < exp:
            fail(
                f"Hidden case {i}: you rejected a stable rate. Here the minimum is far from the origin and "
                "from x0: judge a rate by the gradient's norm after the last step against its norm at x0 "
                "(not by the size of x, and not against the norm after the first step)."
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
    """Half the points for the fixed loop (_judge_fixed_loop), half for naming its three bugs."""
    try:
        fixed = _judge_fixed_loop(student, reference)
    except CheckFailed as failure:
        fixed = failure.verdict
    named = student.get("bugs") == reference.get("bugs") and reference.get("bugs") is not None
    if fixed.passed and named:
        return Verdict(True, fixed.message + " The three bugs are named right.")
    if fixed.passed:
        return Verdict(
            False,
            fixed.message + " But the letters in `bugs` are not the three bugs of the buggy version (half the "
            "points): for each statement, check it against the code and the documentation of the call it names.",
            score=0.5,
        )
    used = student.get("frameworks")
    refused = not isinstance(used, list) or bool(used)  # a refused call, tampering or a forged export
    if named and not refused:
        return Verdict(False, fixed.message + " The three bugs are named right (half the points).", score=0.5)
    return fixed


def _judge_fixed_loop(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
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
        fail("After one full-batch step the loss went up instead of down.")
    if not all(mismatch(s, e, rtol=1e-3, atol=1e-6) is None for s, e in zip(step, expected)):
        fail(
            "One full-batch step does not match SGD on the mean cross-entropy of the model's outputs: compare "
            "the loss of one step with the loss Keras computes for the same step."
        )
    epoch, expected = student.get("one_epoch"), reference["one_epoch"]
    if not isinstance(epoch, list) or not all(
        np.shape(s) == np.shape(e) and mismatch(s, e, rtol=1e-3, atol=1e-5) is None for s, e in zip(epoch, expected)
    ):
        fail(
            "A full-batch step is right, but one epoch of mini-batches does not match SGD over the batches "
            "in the required order: one rng.permutation per epoch with rng = np.random.default_rng(seed), "
            "consecutive slices of it."
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
        fail(f"Each step is right, but after training the accuracy on hidden points is only {acc:.0%}.")
    return Verdict(True, f"Fixed: the steps match SGD and the model reaches {acc:.0%} on hidden points.")


judge_quiz = quiz_judge(
    {
        "q1": "A loss that jumps and then turns into NaN is the signature of steps that are too large: the "
        "weights overshoot into a region where the loss and its gradient explode. A smaller learning "
        "rate or a cap on the gradient's norm fixes the cause. float64 only postpones the overflow by a "
        "few steps, a larger batch reduces noise but not the size of a step, and one image cannot "
        "make a correctly sized step explode.",
        "q2": "An epoch visits every example once: 49,152 / 512 = 96 updates per epoch instead of 1,536, so "
        "15,360 updates take 160 epochs; what changes is each update. Keras' losses average over the batch: "
        "each mini-batch gradient is the mean, not the sum, of its examples' gradients, so it keeps the "
        "expected size of the full gradient (an unbiased estimate) with a variance 16 times smaller, "
        "so its typical error, the square root of the variance, is sqrt(16) = 4 times smaller. "
        "A sum would make the steps 16 times longer, but the loss is "
        "a mean; a mean over more examples does not shrink the step either, since it estimates the same "
        "full gradient; and Keras does not scale the learning rate with the batch size: that is a choice "
        "you make yourself (Goyal et al.).",
        "q3": "An RMS gradient of 3e-3 in the first layer against 5e-3 in the last is no vanishing gradient: "
        "in this part the first layer's RMS gradient is orders of magnitude below the last one's in the "
        "sigmoid network, and of the same order in the ReLU network with He initialization, as here. The "
        "gradient reaches every layer; at a rate of 1e-4 the steps are just small, and the run crawls like the "
        "smallest rates of the learning-rate sweep. Sigmoid units would make the gradient vanish, Glorot "
        "initialization makes all of a ReLU network's gradients smaller, and clipping the norm to 1 changes "
        "only gradients whose norm is above 1, and then scales all layers alike.",
    }
)


_answers = sibling(__file__, "solutions")  # this chapter's reference and wrong answers

# One record per exercise: the only place in the hidden tree where its id is typed.
CHECKS = [
    HiddenCheck("ch01b.stable-lr", 2, _EXPORT_STABLE_LR, judge_stable_lr, _answers.STABLE_LR),
    HiddenCheck(
        "ch01b.fix-training-loop", 2, _EXPORT_FIX_TRAINING_LOOP, judge_fix_training_loop, _answers.FIX_TRAINING_LOOP
    ),
    HiddenCheck("ch01b.quiz", 2, _EXPORT_QUIZ, judge_quiz, _answers.QUIZ),
]
