"""Graded exercises: visible checks that give immediate, specific feedback (chapter 0).

An exercise lives in two notebook cells. The *exercise cell* (cell metadata
``{"course": {"exercise": "<id>"}}``) holds the instructions' stub, which the student
completes. The *check cell* right after it calls :func:`check`::

    check("ch00.scale-pixels", scale_pixels)

:func:`check` never raises: it prints one verdict line (✅ or ❌ with a hint), so an
untouched notebook still runs top to bottom. Visible checks only use public, simple
cases; the grade comes from hidden checks that students never see (see the
instructors' guide). Each chapter's visible checks live in ``course_utils.exercises.chNN``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

PASS_MARK = "\u2705"  # ✅
FAIL_MARK = "\u274c"  # ❌


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: pass/fail, a specific message, a score in [0, 1] (chapter 0)."""

    passed: bool
    message: str
    score: float | None = None  # None: 1.0 if passed else 0.0

    @property
    def fraction(self) -> float:
        """The score as a fraction of the exercise's points."""
        if self.score is None:
            return 1.0 if self.passed else 0.0
        return float(min(1.0, max(0.0, self.score)))

    def line(self, exercise_id: str) -> str:
        """The one line a student sees."""
        return f"{PASS_MARK if self.passed else FAIL_MARK} [{exercise_id}] {self.message}"


class _Fail(Exception):
    """Raised inside a check to stop at the first problem found."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict


VisibleCheck = Callable[..., Verdict]
_REGISTRY: dict[str, VisibleCheck] = {}


def visible_check(exercise_id: str) -> Callable[[VisibleCheck], VisibleCheck]:
    """Register a chapter's visible check under an exercise id (chapter 0)."""
    def register(fn: VisibleCheck) -> VisibleCheck:
        _REGISTRY[exercise_id] = fn
        return fn
    return register


def chapter_of(exercise_id: str) -> str:
    """The chapter prefix of an exercise id: 'ch00.scale-pixels' -> 'ch00' (chapter 0)."""
    return exercise_id.split(".", 1)[0]


def find_check(exercise_id: str) -> VisibleCheck | None:
    """The registered visible check of an exercise, importing its chapter's module (chapter 0)."""
    if exercise_id not in _REGISTRY:
        try:
            importlib.import_module(f"{__name__}.{chapter_of(exercise_id)}")
        except ImportError:
            return None
    return _REGISTRY.get(exercise_id)


def run_check(exercise_id: str, *args: Any, **kwargs: Any) -> Verdict:
    """Run a visible check and return its verdict; never raises (chapter 0)."""
    try:
        fn = find_check(exercise_id)
    except Exception as err:  # the chapter's check module failed to import (e.g. no Keras)
        return Verdict(False, f"The check could not be loaded ({type(err).__name__}: {err}); "
                              "run the chapter's first cells, then this one again.")
    if fn is None:
        return Verdict(False, f"There is no exercise called '{exercise_id}'. Check the spelling of the "
                              "id in this cell against the exercise above.")
    try:
        return fn(*args, **kwargs)
    except _Fail as stop:
        return stop.verdict
    except (Exception, SystemExit) as err:  # the student's code escaped the check's own guards
        return Verdict(False, f"The check stopped on an error: {type(err).__name__}: {err}")


def check(exercise_id: str, *args: Any, **kwargs: Any) -> None:
    """Print the visible check's verdict for an exercise: ✅ or ❌ with a specific hint (chapter 0)."""
    verdict = run_check(exercise_id, *args, **kwargs)
    if not isinstance(verdict, Verdict):  # a check that forgot to return its verdict
        verdict = Verdict(False, "The check returned no verdict; please report this to the course authors.")
    print(verdict.line(exercise_id))


# ---------------------------------------------------------------------------------------------
# Building blocks shared by visible checks (here) and hidden checks (instructor tree).
# ---------------------------------------------------------------------------------------------

def fail(message: str) -> None:
    """Stop the current check with a failing verdict (chapter 0)."""
    raise _Fail(Verdict(False, message))


def call(fn: Any, *args: Any, what: str | None = None, **kwargs: Any) -> Any:
    """Call the student's function, turning a stub or a crash into a specific failure (chapter 0)."""
    name = what or getattr(fn, "__name__", "your function")
    if fn is None or fn is Ellipsis:
        fail(f"{name} is not defined yet: run the exercise cell above first.")
    if not callable(fn):
        fail(f"{name} should be a function, but it is a {type(fn).__name__}.")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        fail(f"Not implemented yet: replace the `raise NotImplementedError` in {name} with your code.")
    except (Exception, SystemExit) as err:
        fail(f"{name} raised {type(err).__name__}: {err}")


def as_array(value: Any, name: str = "the result") -> np.ndarray:
    """Convert a result (NumPy, TensorFlow tensor, list, number) to a NumPy array, or fail (chapter 0)."""
    if value is None:
        fail(f"{name} is None: did you forget to `return` it?")
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except Exception as err:
        fail(f"{name} could not be turned into an array ({type(err).__name__}: {err}).")
    if arr.dtype == object:
        fail(f"{name} is not numeric (it is a {type(value).__name__} of mixed objects).")
    return arr


def diagnose(got: Any, expected: Any, name: str = "the result", rtol: float = 1e-5,
             atol: float = 1e-7, check_dtype: bool = False) -> str | None:
    """None if `got` matches `expected`, else a hint that says *how* it differs (chapter 0).

    The hints look for the usual mistakes: a missing return, a wrong shape (or a
    transposed one), a wrong dtype, NaN or infinite values, a result off by a constant
    factor, by a constant offset or by its sign.
    """
    try:
        g = as_array(got, name)
    except _Fail as stop:
        return stop.verdict.message
    e = np.asarray(expected)
    if g.shape != e.shape:
        if g.ndim == 2 and g.shape == e.shape[::-1]:
            return f"{name} has shape {g.shape}, expected {e.shape}: it looks transposed."
        if g.size == e.size:
            return f"{name} has shape {g.shape}, expected {e.shape} (same number of values: reshape it)."
        return f"{name} has shape {g.shape}, expected {e.shape}."
    if check_dtype and g.dtype != e.dtype:
        return f"{name} has dtype {g.dtype}, expected {e.dtype}."
    if not np.issubdtype(g.dtype, np.number) and g.dtype != bool:
        return f"{name} has dtype {g.dtype}, expected numbers."
    gf, ef = g.astype(np.float64), e.astype(np.float64)
    if np.isnan(gf).any() and not np.isnan(ef).any():
        return f"{name} contains NaN values ({int(np.isnan(gf).sum())} of {gf.size})."
    if np.isinf(gf).any() and not np.isinf(ef).any():
        return f"{name} contains infinite values: look for a division by zero or an overflow."
    if np.allclose(gf, ef, rtol=rtol, atol=atol, equal_nan=True):
        return None
    finite = np.isfinite(gf) & np.isfinite(ef)
    gv, ev = gf[finite], ef[finite]
    if gv.size and np.allclose(gv, -ev, rtol=rtol, atol=atol):
        return f"{name} has the right size but the opposite sign."
    nz = np.abs(ev) > 1e-12
    if nz.sum() >= 1:
        ratios = gv[nz] / ev[nz]
        r = float(np.median(ratios))
        if np.allclose(ratios, r, rtol=1e-4) and not math.isclose(r, 1.0, rel_tol=1e-4) and r != 0:
            return f"{name} is off by a constant factor: it is about {r:.4g} times the expected values."
    if gv.size > 1:
        diff = gv - ev
        d = float(np.median(diff))
        if np.allclose(diff, d, atol=max(atol, 1e-6)) and abs(d) > atol:
            return f"{name} is off by a constant offset of about {d:.4g}."
    worst = float(np.max(np.abs(gv - ev))) if gv.size else float("nan")
    return f"{name} differs from the expected values (largest absolute difference {worst:.3g})."


def expect_close(got: Any, expected: Any, name: str = "the result", **kwargs: Any) -> np.ndarray:
    """Fail with diagnose()'s hint unless `got` matches `expected`; return got as an array (chapter 0)."""
    hint = diagnose(got, expected, name, **kwargs)
    if hint is not None:
        fail(hint)
    return as_array(got, name)


# ---------------------------------------------------------------------------------------------
# Quizzes: visible checks only validate the form of an answer; hidden checks grade it.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    """One quiz question: its key, the allowed choices (None: a number is expected) (chapter 0)."""

    key: str                               # e.g. "q1"
    choices: Sequence[str] | None = None   # e.g. ("A", "B", "C", "D"); None for a numeric answer


def validate_answers(answers: Any, questions: Sequence[Question]) -> Verdict:
    """Check that every quiz question has an answer of the right form, without grading it (chapter 0)."""
    if not isinstance(answers, Mapping):
        return Verdict(False, f"answers should be a dict like {{'q1': 'A', ...}}, got {type(answers).__name__}.")
    problems = []
    for q in questions:
        value = answers.get(q.key)
        if value is None:
            problems.append(f"{q.key} is not answered yet")
        elif q.choices is not None:
            if not isinstance(value, str) or value.strip().upper() not in {c.upper() for c in q.choices}:
                problems.append(f"{q.key} must be one of {', '.join(q.choices)} (got {value!r})")
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                problems.append(f"{q.key} must be a number (got {value!r})")
            else:
                if not math.isfinite(number):
                    problems.append(f"{q.key} must be a finite number (got {value!r})")
    extra = sorted(set(answers) - {q.key for q in questions})
    if extra:
        problems.append(f"unknown question keys {extra}")
    if problems:
        return Verdict(False, "; ".join(problems) + ".")
    return Verdict(True, "All questions answered in the right form. Quiz answers are graded when you "
                         "submit, so this check cannot tell you whether they are right.")
