"""Hidden checks for chapter 0, "Getting started" (instructors only).

The API (see course_utils.grade.HiddenChapter and the instructors' page of the book):

PRELUDE      -- imports run before every snippet (the exercise section imports the same).
EXPORTS[id]  -- a snippet run in the student's kernel after the exercise section. It builds
                hidden inputs with fixed seeds, calls the student's code, never raises for the
                student's errors (it records them), and leaves a JSON-able value in ``_export``.
JUDGES[id]   -- ``judge(student_export, reference_export) -> Verdict``, run in the grader's
                process; reference_export is the same snippet's output with solutions.SOLUTIONS.
POINTS[id]   -- points of the exercise (default 1).

Hints come from course_utils.exercises.diagnose or name the mistake; they never reveal the
hidden inputs or expected values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.exercises import Verdict, diagnose

PRELUDE = "import numpy as np\nimport keras\n"

_GUARD = '''
def _safe(fn, *args, **kwargs):
    try:
        return {"ok": fn(*args, **kwargs)}
    except NotImplementedError:
        return {"error": "NotImplementedError (the stub is not completed yet)"}
    except Exception as err:
        return {"error": f"{type(err).__name__}: {err}"}

def _plain(value):
    """A result as a JSON-able value, with its type's name."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    kind = type(value).__name__
    try:
        arr = np.asarray(value)
        if arr.dtype == object:
            return {"type": kind, "value": None}
        return {"type": kind, "value": arr.tolist(), "dtype_kind": arr.dtype.kind}
    except Exception:
        return {"type": kind, "value": None}

def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
'''

EXPORTS: dict[str, str] = {
    "ch00.build-classifier": _GUARD + '''
keras.utils.set_random_seed(31)
_r = _safe(build_classifier, 37)
_m = _r.get("ok")
_export = {"error": _r.get("error"), "is_model": False, "type": type(_m).__name__}
if _m is not None and isinstance(_m, keras.Model):
    _export["is_model"] = True
    _export["compiled"] = bool(getattr(_m, "compiled", False))
    _x = np.random.default_rng(32).uniform(0.0, 1.0, size=(6, 28, 28)).astype("float32")
    try:
        _y = np.asarray(_m(_x))
        _export["layers"] = [{"class": type(_l).__name__, "units": getattr(_l, "units", None),
                              "activation": getattr(getattr(_l, "activation", None), "__name__", None)}
                             for _l in _m.layers]
        _export["params"] = int(_m.count_params())
        _export["out_shape"] = list(_y.shape)
        _w_rng = np.random.default_rng(33)
        _m.set_weights([_w_rng.normal(0.0, 0.1, size=_w.shape).astype("float32") for _w in _m.get_weights()])
        _export["output"] = np.asarray(_m(_x), dtype="float64").tolist()
    except Exception as _err:
        _export["error"] = f"calling the model failed: {type(_err).__name__}: {_err}"
''',
    "ch00.accuracy": _GUARD + '''
_rng = np.random.default_rng(21)
_export = {"cases": []}
for _n, _k in [(50, 10), (10, 10), (7, 3), (1, 4)]:
    _probs = _softmax(_rng.normal(size=(_n, _k))).astype("float32")
    _labels = _rng.integers(0, _k, size=_n)
    _r = _safe(accuracy, _probs.copy(), _labels.copy())
    _case = {"error": _r.get("error"), "n": _n}
    if "ok" in _r:
        _case.update(_plain(_r["ok"]))
    _export["cases"].append(_case)
''',
    "ch00.misclassified": _GUARD + '''
_rng = np.random.default_rng(22)
_export = {"cases": []}
for _n, _k, _right in [(40, 10, 0.5), (12, 3, 0.3), (6, 4, 1.0)]:
    _labels = _rng.integers(0, _k, size=_n)
    _logits = _rng.normal(size=(_n, _k))
    _keep = _rng.uniform(size=_n) < _right
    _logits[_keep, _labels[_keep]] += 10.0
    _probs = _softmax(_logits).astype("float32")
    _r = _safe(misclassified, _probs, _labels)
    _case = {"error": _r.get("error")}
    if "ok" in _r:
        _case.update(_plain(_r["ok"]))
    _export["cases"].append(_case)
''',
    "ch00.best-epoch": _GUARD + '''
_rng = np.random.default_rng(23)
_export = {"cases": []}
for _epochs, _as_history in [(9, False), (5, True), (12, True), (1, False)]:
    _val = list(np.round(_rng.uniform(0.2, 1.0, size=_epochs), 6))
    _train = list(np.round(np.sort(_rng.uniform(0.05, 0.9, size=_epochs))[::-1], 6))
    _logs = {"loss": [float(v) for v in _train], "accuracy": [0.5] * _epochs,
             "val_loss": [float(v) for v in _val], "val_accuracy": [0.5] * _epochs}
    if _as_history:
        _h = keras.callbacks.History()
        _h.history = _logs
    else:
        _h = _logs
    _r = _safe(best_epoch, _h)
    _case = {"error": _r.get("error"), "as_history": _as_history}
    if "ok" in _r:
        _case.update(_plain(_r["ok"]))
    _export["cases"].append(_case)
''',
    "ch00.quiz": '''
def _answer(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    try:
        return float(value)
    except Exception:
        return str(value)[:50]
_export = {"answers": {str(k): _answer(v) for k, v in quiz_answers.items()}
           if isinstance(quiz_answers, dict) else None}
''',
}

POINTS: dict[str, float] = {"ch00.build-classifier": 2, "ch00.accuracy": 1, "ch00.misclassified": 1,
                            "ch00.best-epoch": 1, "ch00.quiz": 1}


def _no(message: str) -> Verdict:
    """A failing verdict."""
    return Verdict(False, message)


def judge_build_classifier(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Layers, units, activations, parameter count and outputs with fixed weights, for a hidden size."""
    if student.get("error") and not student.get("is_model"):
        return _no(f"build_classifier raised {student['error']}")
    if not student.get("is_model"):
        return _no(f"build_classifier should return a Keras model, got {student.get('type')}.")
    if student.get("error"):
        return _no(f"The model could not be used on a batch of 28 x 28 images: {student['error']}")
    if student["compiled"]:
        return _no("The model is compiled: return it uncompiled; the chapter compiles it later.")
    got, exp = student["layers"], reference["layers"]
    if [layer["class"] for layer in got] != [layer["class"] for layer in exp]:
        return _no(f"The layers are {[layer['class'] for layer in got]}, expected Flatten, then two Dense layers.")
    if got[1]["units"] != exp[1]["units"]:
        return _no(f"With a hidden size other than the visible check's, the hidden layer has {got[1]['units']} "
                   "units: use the hidden_units argument, not a fixed number.")
    if got[2]["units"] != 10:
        return _no(f"The output layer has {got[2]['units']} units; there are 10 digit classes.")
    if got[1]["activation"] != "relu":
        return _no(f"The hidden layer's activation is {got[1]['activation']}, expected relu.")
    if got[2]["activation"] != "softmax":
        return _no(f"The output layer's activation is {got[2]['activation']}, expected softmax.")
    if student["params"] != reference["params"]:
        return _no(f"The model has {student['params']} parameters, which does not match these layers.")
    hint = diagnose(student["output"], reference["output"], "the model's output with fixed weights", rtol=1e-4, atol=1e-6)
    if hint is not None:
        return _no(hint)
    return Verdict(True, "The model is right for a hidden number of units.")


def _cases(student: dict[str, Any], name: str) -> Verdict | None:
    """The first error among the hidden cases, as a verdict."""
    for i, case in enumerate(student["cases"], start=1):
        if case.get("error"):
            return _no(f"Hidden case {i}: {name} raised {case['error']}")
        if case.get("value") is None:
            if case.get("type") == "NoneType":
                return _no(f"Hidden case {i}: {name} returned None: did you forget `return`?")
            return _no(f"Hidden case {i}: {name} returned a {case.get('type')}, which is not a number or an array.")
    return None


def judge_accuracy(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Four hidden batches, one with as many examples as classes, one of a single example."""
    stop = _cases(student, "accuracy")
    if stop:
        return stop
    for i, (got, exp) in enumerate(zip(student["cases"], reference["cases"]), start=1):
        value = np.asarray(got["value"], dtype=float)
        if value.shape != ():
            return _no(f"Hidden case {i}: accuracy returned an array of shape {value.shape}; return one number.")
        if np.isclose(value, exp["value"]):
            continue
        if np.isclose(value, exp["value"] * exp["n"]):
            return _no("accuracy returned the number of correct predictions; divide by the number of examples.")
        if np.isclose(value, 1 - exp["value"]):
            return _no("accuracy returned the error rate (the fraction of wrong predictions).")
        return _no(f"Hidden case {i}: accuracy is wrong (check the axis of argmax: one prediction per row).")
    return Verdict(True, "Correct on all hidden cases.")


def judge_misclassified(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Three hidden batches, one without any mistake."""
    stop = _cases(student, "misclassified")
    if stop:
        return stop
    for i, (got, exp) in enumerate(zip(student["cases"], reference["cases"]), start=1):
        g, e = np.asarray(got["value"]), np.asarray(exp["value"])
        if g.dtype == bool or got.get("dtype_kind") == "b":
            return _no("misclassified returned a boolean mask; return the indices (np.flatnonzero or np.where).")
        if g.size and got.get("dtype_kind") not in ("i", "u"):
            return _no(f"misclassified should return integer indices, got values of kind {got.get('dtype_kind')!r}.")
        if g.ndim != 1 and g.size:
            return _no(f"misclassified should return a 1-D array of indices, got shape {g.shape}.")
        if g.size == e.size and np.array_equal(g.ravel(), e):
            continue
        if g.size == e.size and e.size and np.array_equal(np.sort(g.ravel()), e):
            return _no("The right indices, but not in increasing order.")
        if g.size == e.size and e.size and np.array_equal(g.ravel(), e + 1):
            return _no("The indices are off by one: NumPy indices count from 0.")
        if e.size == 0:
            return _no(f"Hidden case {i}: every prediction is right, so the result should be empty.")
        more_or_fewer = "too many" if g.size > e.size else "too few"
        return _no(f"Hidden case {i}: {more_or_fewer} indices returned: compare argmax over each "
                   "row with the labels and keep the rows where they differ.")
    return Verdict(True, "Correct on all hidden cases.")


def judge_best_epoch(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Plain dicts and keras History objects, a one-epoch history included."""
    for i, (got, exp) in enumerate(zip(student["cases"], reference["cases"]), start=1):
        if got.get("error") and got["as_history"] and "subscriptable" in got["error"]:
            return _no("best_epoch fails on a keras History object: use its .history dictionary.")
    stop = _cases(student, "best_epoch")
    if stop:
        return stop
    for i, (got, exp) in enumerate(zip(student["cases"], reference["cases"]), start=1):
        if got.get("dtype_kind") not in ("i", "u") or np.ndim(got["value"]) != 0:
            return _no(f"Hidden case {i}: best_epoch should return an integer epoch, got a {got.get('type')}.")
        if got["value"] == exp["value"]:
            continue
        if got["value"] == exp["value"] - 1:
            return _no("best_epoch is off by one: epochs count from 1, list indices from 0.")
        return _no(f"Hidden case {i}: wrong epoch; look for the lowest value of history['val_loss'].")
    return Verdict(True, "Correct on all hidden cases, with dicts and History objects.")


def judge_quiz(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """One point per question: letters case-insensitive, numbers within 0.5."""
    answers, key = student.get("answers"), reference["answers"]
    if not isinstance(answers, dict):
        return Verdict(False, "quiz_answers is not a dict.", score=0.0)
    right = 0
    for q, expected in key.items():
        given = answers.get(q)
        if isinstance(expected, str):
            right += isinstance(given, str) and given.strip().upper() == expected.upper()
        else:
            try:
                right += abs(float(given) - float(expected)) <= 0.5
            except (TypeError, ValueError):
                pass
    return Verdict(right == len(key), f"{right} of {len(key)} quiz answers are right.", score=right / len(key))


JUDGES: dict[str, Callable[[Any, Any], Verdict]] = {
    "ch00.build-classifier": judge_build_classifier,
    "ch00.accuracy": judge_accuracy,
    "ch00.misclassified": judge_misclassified,
    "ch00.best-epoch": judge_best_epoch,
    "ch00.quiz": judge_quiz,
}
