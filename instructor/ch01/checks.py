"""Hidden checks for chapter 1, part 1, "Gradients and backpropagation" (instructors only).

The format is chapter 0's (see instructor/ch00/checks.py and the instructors' page): an export
snippet per exercise, run in the student's kernel through the kit's ``_call``, and a judge
per exercise, run in the grader's process against the reference solution's export.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.checking import Verdict, fail
from course_utils.exercises.ch01 import BRIER_TIME_LIMIT, _brier_slow
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
_misshapen = []
def _wiggle(x):  # without h (case 6): sin(800 x) tells the default step 1e-5 from 1e-4 and 1e-6
    return float(np.sum(np.sin(800.0 * np.asarray(x, dtype=float)) * _A))
def _strict(x):  # a function of (2, 5) arrays only: x must keep its shape
    x = np.asarray(x, dtype=float)
    if x.shape != (2, 5):
        _misshapen.append(x.shape)
        raise ValueError(f"this f takes arrays of shape (2, 5), got {x.shape}")
    return float(np.sum(np.cos(x) * x[::-1]))
for _fn, _x, _h in [(_f, _rng.normal(size=(3, 4)), 1e-5), (_f, _rng.normal(size=(3, 4)), 0.05),
                    (_f, _rng.normal(size=12), 1e-3), (_g, _rng.normal(size=(3, 2)), 1e-4),
                    (_strict, _rng.normal(size=(2, 5)), 1e-4), (_wiggle, _rng.normal(size=(3, 4)), None)]:
    _x_before = _x.copy()
    # the last case leaves h to its default, 1e-5, on a function that is not quadratic
    _case = _call("central_difference", _fn, _x) if _h is None else _call("central_difference", _fn, _x, _h)
    _case["modified_x"] = bool(not np.array_equal(_x, _x_before))
    _export["cases"].append(_case)
_export["misshapen_calls"] = len(_misshapen)
''')

_EXPORT_BRIER_GRAD = numpy_only(
    '''
_rng = np.random.default_rng(12)
_export = {"cases": []}
_shared = 3.0 * _rng.normal(size=(4, 6))  # cases 5 and 6: the same logits, smoothing 0 and 0.3
_near = 900.0 + _rng.normal(size=(3, 5))  # large logits close to each other: no saturated softmax
_huge = 20000.0 + _rng.normal(size=(3, 4))  # beyond even np.longdouble's exp (about 11356)
for _z, _s in [(_rng.normal(size=(6, 10)), 0.1), (30.0 * _rng.normal(size=(4, 3)), 0.0),
               (_near, 0.25), (2.0 * _rng.normal(size=(1, 4)), 0.05),
               (_shared, 0.0), (_shared, 0.3), (_huge, 0.1)]:
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

_EXPORT_QUIZ = QUIZ_EXPORT


def judge_central_difference(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Hidden points of non-separable functions, matrices and a vector, four step sizes and the default
    one, and a function that accepts only arrays shaped like x."""
    if student.get("misshapen_calls"):
        fail(
            "central_difference called f with an array of another shape than x: call f only with arrays shaped like x."
        )
    for i, got, exp in each_case(student, reference, "central_difference"):
        if student["cases"][i - 1]["modified_x"]:
            fail("central_difference changes the caller's x; work on a copy.")
        hint = mismatch(got, exp["ok"], f"the gradient in hidden case {i}", rtol=1e-7, atol=1e-8)
        if hint is not None:
            fail(
                hint + {2: " Is the step h you are given used?", 6: " Without h, is the default step 1e-5?"}.get(i, "")
            )
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


judge_quiz = quiz_judge(
    {
        "q1": "For f(x) = 3x^2 the update is x <- x - lr * 6x = (1 - 6 lr) x. It shrinks only while "
        "|1 - 6 lr| < 1, that is lr < 2/6 = 1/3: the threshold is 2 over the curvature f'' = 6, not 1 over it. "
        "Between 1/6 and 1/3 the iterates overshoot and alternate in sign, but still converge.",
        "q2": "tf.stop_gradient passes the value x^2 forward but counts it as a constant in the backward pass, "
        "so each entry x_i * c_i has derivative c_i = x_i^2; and tape.gradient of a vector returns the "
        "gradient of the sum of its entries: [1, 4]. The values (x^3) are not what the tape differentiates, "
        "a stopped factor does not cut the other factor off, and a non-scalar output is no error.",
        "q3": "Central differences evaluate the loss twice per weight: 2 x 10^6 x 10 ms = 20,000 s, about 5.5 "
        "hours, for one gradient. Reverse mode runs the forward pass once and walks the tape back once, a small "
        "multiple of one evaluation, whatever the number of weights. Nudging all weights at once gives one "
        "directional slope, not a million partial derivatives, and the tape's backward pass costs about as "
        "much as the forward pass, not nothing and not one pass per weight.",
        "q4": "Each step multiplies the coordinate x2 by 1 - lr * lambda2 = 1 - 0.03 * 50 = -0.5: it flips "
        "sign and halves at every step, so it still converges. x1 is multiplied by 0.97.",
        "q5": "To first order the change of the loss is the dot product of the gradient with the step: "
        "3 * 0.04 + (-4) * 0.03 = 0.12 - 0.12 = 0. The step is perpendicular to the gradient, along the "
        "contour line. The slope along a direction is the gradient's length times the cosine of the angle, "
        "not the length alone, the signs of the partial derivatives count, and a step that does not point "
        "uphill need not go downhill.",
    }
)


_answers = sibling(__file__, "solutions")  # this chapter's reference and wrong answers

# One record per exercise: the only place in the hidden tree where its id is typed.
CHECKS = [
    HiddenCheck(
        "ch01.central-difference", 1, _EXPORT_CENTRAL_DIFFERENCE, judge_central_difference, _answers.CENTRAL_DIFFERENCE
    ),
    HiddenCheck("ch01.brier-grad", 2, _EXPORT_BRIER_GRAD, judge_brier_grad, _answers.BRIER_GRAD),
    HiddenCheck("ch01.quiz", 2, _EXPORT_QUIZ, judge_quiz, _answers.QUIZ),
]
