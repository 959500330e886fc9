"""Graded exercises: visible checks that give immediate, specific feedback (chapter 0).

An exercise lives in two notebook cells. The *exercise cell* (cell metadata
``{"course": {"exercise": "<id>"}}``) holds the instructions' stub, which the student
completes. The *check cell* right after it calls :func:`check`::

    check("ch00.scale-pixels", scale_pixels)

:func:`check` never raises: it prints one verdict line (✅ or ❌ with a hint), so an
untouched notebook still runs top to bottom. Visible checks only use public, simple
cases; the grade comes from hidden checks that students never see (see the
instructors' guide). Each chapter's visible checks live in ``course_utils.exercises.chNN``;
the building blocks they use (``call``, ``expect_close``, ``fail``...) live in
``course_utils.checking``, shared with the hidden checks.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from course_utils.checking import (
    FAIL_MARK,
    PASS_MARK,
    CheckFailed,
    Verdict,
    as_array,
    call,
    diagnose,
    expect_close,
    fail,
)

__all__ = [
    "FAIL_MARK",
    "PASS_MARK",
    "CheckFailed",
    "Question",
    "Verdict",
    "as_array",
    "call",
    "check",
    "diagnose",
    "expect_close",
    "fail",
    "find_check",
    "run_check",
    "validate_answers",
    "visible_check",
]

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
        return Verdict(
            False,
            f"The check could not be loaded ({type(err).__name__}: {err}); "
            "run the chapter's first cells, then this one again.",
        )
    if fn is None:
        return Verdict(
            False,
            f"There is no exercise called '{exercise_id}'. Check the spelling of the "
            "id in this cell against the exercise above.",
        )
    try:
        return fn(*args, **kwargs)
    except CheckFailed as stop:
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
# Quizzes: visible checks only validate the form of an answer; hidden checks grade it.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """One quiz question: its key, the allowed choices (None: a number is expected) (chapter 0)."""

    key: str  # e.g. "q1"
    choices: Sequence[str] | None = None  # e.g. ("A", "B", "C", "D"); None for a numeric answer


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
    return Verdict(
        True,
        "All questions answered in the right form. Quiz answers are graded when you "
        "submit, so this check cannot tell you whether they are right.",
    )
