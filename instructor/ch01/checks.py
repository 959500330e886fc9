"""Hidden checks for chapter 1, "Gradients and gradient descent" (instructors only).

Each exercise has two halves:

EXPORTS[id]  -- a code snippet run in the student's kernel after the notebook. It builds hidden
                inputs with fixed seeds, calls the student's function on them and leaves a
                JSON-serializable dict in the variable ``_export`` (errors are recorded, never raised).
JUDGES[id]   -- run in the grader process: ``judge(student_export, reference_export) -> Verdict``,
                where reference_export comes from running the same snippet with solutions.SOLUTIONS.

The hints come from course_utils.exercises.diagnose, so they name the kind of mistake
(shape, sign, factor, offset) without revealing the hidden inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.exercises import Verdict, diagnose

# Imports every snippet may rely on (the exercise section's first cell imports the same).
PRELUDE = "import numpy as np\nimport tensorflow as tf\nimport keras\n"

_GUARD = '''
def _safe(fn, *args, **kwargs):
    try:
        return {"ok": fn(*args, **kwargs)}
    except NotImplementedError:
        return {"error": "NotImplementedError (the stub is not completed yet)"}
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}"}

def _arr(value):
    if value is None:
        return None
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=float).tolist()
'''

EXPORTS: dict[str, str] = {
    "ch01.central-difference": _GUARD + '''
_rng = np.random.default_rng(11)
_A = _rng.normal(size=(3, 4))
def _f(x):
    x = np.asarray(x, dtype=float)
    return float(np.sum(np.sin(x) * x**2) + np.sum(_A.ravel() * x.ravel()) ** 2 / 10)
_cases = [(_rng.normal(size=(3, 4)), 1e-5), (_rng.normal(size=(3, 4)), 0.05), (_rng.normal(size=12), 1e-3)]
_export = {"cases": []}
for _x, _h in _cases:
    _x_before = _x.copy()
    _r = _safe(central_difference, _f, _x, _h)
    _export["cases"].append({"error": _r.get("error"),
                             "value": _arr(_r["ok"]) if "ok" in _r else None,
                             "shape": list(np.shape(_r["ok"])) if "ok" in _r and _r["ok"] is not None else None,
                             "modified_x": bool(not np.array_equal(_x, _x_before))})
''',
    "ch01.gd-step": _GUARD + '''
_rng = np.random.default_rng(12)
_export = {"cases": []}
for _shape, _lr in [((5,), 0.3), ((2, 3), 0.01), ((4,), 2.5)]:
    _x, _g = _rng.normal(size=_shape), _rng.normal(size=_shape)
    _x_before = _x.copy()
    _r = _safe(gd_step, _x, _g, _lr)
    _export["cases"].append({"error": _r.get("error"), "value": _arr(_r.get("ok")),
                             "uphill": _arr(_x_before + _lr * _g), "no_lr": _arr(_x_before - _g),
                             "modified_x": bool(not np.array_equal(_x, _x_before))})
''',
    "ch01.gradient-descent": _GUARD + '''
_rng = np.random.default_rng(13)
_export = {"cases": []}
_Q = np.diag([1.0, 4.0, 9.0])
_b = _rng.normal(size=3)
for _x0, _lr, _tol, _max in [(_rng.normal(size=3), 0.1, 1e-4, 1000), (_rng.normal(size=3), 0.01, 1e-6, 50),
                             (_rng.normal(size=3), 0.2, 1e-8, 500), (np.linalg.solve(_Q, _b), 0.1, 1e-3, 10)]:
    _r = _safe(gradient_descent, lambda x: _Q @ np.asarray(x, dtype=float) - _b, _x0.copy(), _lr, _tol, _max)
    _out = _r.get("ok")
    if isinstance(_out, (tuple, list)) and len(_out) == 2:
        _n = _out[1]
        _export["cases"].append({"error": None, "value": _arr(_out[0]),
                                 "n_steps": int(_n) if isinstance(_n, (int, np.integer)) else None})
    else:
        _export["cases"].append({"error": _r.get("error") or "gradient_descent should return a tuple (x, n_steps).",
                                 "value": None, "n_steps": None})
''',
    "ch01.loss-gradients": _GUARD + '''
keras.utils.set_random_seed(14)
_rng = np.random.default_rng(14)
_model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(3)])
_x = _rng.normal(size=(8, 6)).astype("float32")
_y = _rng.integers(0, 3, size=8)
_before = [w.copy() for w in _model.get_weights()]
_r = _safe(loss_gradients, _model, _x, _y, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
_grads = _r.get("ok")
_export = {"error": _r.get("error"), "n_variables": len(_model.trainable_variables),
           "weights_changed": bool(any(not np.array_equal(a, b) for a, b in zip(_before, _model.get_weights()))),
           "value": None}
if _grads is not None and not isinstance(_grads, (list, tuple)):
    _export["error"] = f"loss_gradients should return a list of gradients, got {type(_grads).__name__}."
elif _grads is not None:
    _export["value"] = [_arr(g) for g in _grads]
''',
    "ch01.clip-global-norm": _GUARD + '''
_rng = np.random.default_rng(15)
_export = {"cases": []}
for _scale, _c in [(1.0, 0.5), (0.01, 5.0), (3.0, 2.0)]:
    _grads = [_scale * _rng.normal(size=(4, 3)), _scale * _rng.normal(size=3), _scale * _rng.normal(size=(2, 2, 2))]
    _r = _safe(clip_by_global_norm, [g.copy() for g in _grads], _c)
    _out = _r.get("ok")
    if isinstance(_out, (tuple, list)) and len(_out) == 2 and isinstance(_out[0], (list, tuple)):
        _norm = _out[1]
        _export["cases"].append({"error": None, "clipped": [_arr(g) for g in _out[0]],
                                 "norm": float(np.asarray(_norm)) if np.size(_norm) == 1 else None})
    else:
        _export["cases"].append({"error": _r.get("error") or "clip_by_global_norm should return (clipped, global_norm).",
                                 "clipped": None, "norm": None})
''',
    "ch01.quiz": '''
_export = {"answers": dict(quiz_answers) if isinstance(quiz_answers, dict) else None}
''',
}


def _stop(message: str) -> Verdict:
    return Verdict(False, message)


def judge_central_difference(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Three hidden points of a non-separable function, with three step sizes."""
    for i, (got, exp) in enumerate(zip(student["cases"], reference["cases"]), start=1):
        if got["error"]:
            return _stop(f"Hidden case {i}: central_difference raised {got['error']}")
        if got["modified_x"]:
            return _stop("central_difference changes the caller's x; work on a copy.")
        hint = diagnose(got["value"], exp["value"], f"the gradient in hidden case {i}", rtol=1e-6, atol=1e-8)
        if hint is not None:
            return _stop(hint)
    return Verdict(True, "Correct on all hidden cases.")


def judge_gd_step(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Random points, gradients and learning rates, vectors and matrices."""
    for i, (got, exp) in enumerate(zip(student["cases"], reference["cases"]), start=1):
        if got["error"]:
            return _stop(f"Hidden case {i}: gd_step raised {got['error']}")
        if diagnose(got["value"], got["uphill"]) is None:
            return _stop("The step goes uphill: move against the gradient, x - lr * grad.")
        if diagnose(got["value"], got["no_lr"]) is None:
            return _stop("The learning rate is ignored: scale the gradient by lr.")
        hint = diagnose(got["value"], exp["value"], f"the new point in hidden case {i}")
        if hint is not None:
            return _stop(hint)
        if got["modified_x"]:
            return _stop("gd_step modifies x in place; return a new array.")
    return Verdict(True, "Correct on all hidden cases.")


def judge_gradient_descent(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """A 3-D quadratic: converging runs, a run capped by max_steps, and a start at the minimum."""
    for i, (got, exp) in enumerate(zip(student["cases"], reference["cases"]), start=1):
        if got["error"]:
            return _stop(f"Hidden case {i}: {got['error']}")
        if got["n_steps"] is None:
            return _stop(f"Hidden case {i}: n_steps should be an int.")
        if got["n_steps"] != exp["n_steps"]:
            more_or_fewer = "more" if got["n_steps"] > exp["n_steps"] else "fewer"
            return _stop(f"Hidden case {i}: took {more_or_fewer} steps than it should: check the "
                         "stopping rule (norm of the gradient below tol, tested before each step) and max_steps.")
        hint = diagnose(got["value"], exp["value"], f"the final point in hidden case {i}", rtol=1e-6, atol=1e-9)
        if hint is not None:
            return _stop(hint)
    return Verdict(True, "Correct on all hidden cases.")


def judge_loss_gradients(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """A two-layer network with a sparse cross-entropy loss on hidden data."""
    if student["error"]:
        return _stop(f"loss_gradients raised {student['error']}")
    if student["value"] is None:
        return _stop("loss_gradients returned None: return the list of gradients.")
    if len(student["value"]) != reference["n_variables"]:
        return _stop(f"Got {len(student['value'])} gradients for {reference['n_variables']} trainable variables.")
    if student["weights_changed"]:
        return _stop("The model's weights changed: return the gradients without applying them.")
    for j, (got, exp) in enumerate(zip(student["value"], reference["value"])):
        hint = diagnose(got, exp, f"the gradient of trainable variable {j}", rtol=1e-4, atol=1e-6)
        if hint is not None:
            return _stop(hint)
    return Verdict(True, "Correct on the hidden network.")


def judge_clip_global_norm(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Three random gradient lists: clipped hard, not clipped, clipped a little."""
    for i, (got, exp) in enumerate(zip(student["cases"], reference["cases"]), start=1):
        if got["error"]:
            return _stop(f"Hidden case {i}: {got['error']}")
        if got["norm"] is None:
            return _stop(f"Hidden case {i}: global_norm should be a single number.")
        hint = diagnose(got["norm"], exp["norm"], f"global_norm in hidden case {i}")
        if hint is not None:
            return _stop(hint)
        if len(got["clipped"]) != len(exp["clipped"]):
            return _stop(f"Hidden case {i}: return one clipped array per input gradient.")
        for j, (g, e) in enumerate(zip(got["clipped"], exp["clipped"])):
            hint = diagnose(g, e, f"clipped[{j}] in hidden case {i}")
            if hint is not None:
                return _stop(hint)
    return Verdict(True, "Correct on all hidden cases, and consistent with tf.clip_by_global_norm.")


def judge_quiz(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """One point per question, as a fraction: letters case-insensitive, numbers within 1e-6 relative."""
    answers, key = student.get("answers"), reference["answers"]
    if not isinstance(answers, dict):
        return Verdict(False, "quiz_answers is not a dict.", score=0.0)
    right = 0
    for q, expected in key.items():
        given = answers.get(q)
        if isinstance(expected, str):
            right += isinstance(given, str) and given.strip().upper() == expected
        else:
            try:
                right += bool(np.isclose(float(given), float(expected), rtol=1e-6, atol=1e-9))
            except (TypeError, ValueError):
                pass
    return Verdict(right == len(key), f"{right} of {len(key)} quiz answers are right.", score=right / len(key))


JUDGES: dict[str, Callable[[dict[str, Any], dict[str, Any]], Verdict]] = {
    "ch01.central-difference": judge_central_difference,
    "ch01.gd-step": judge_gd_step,
    "ch01.gradient-descent": judge_gradient_descent,
    "ch01.loss-gradients": judge_loss_gradients,
    "ch01.clip-global-norm": judge_clip_global_norm,
    "ch01.quiz": judge_quiz,
}
