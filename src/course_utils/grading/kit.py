"""The hidden-check kit: what every chapter's ``instructor/chNN/checks.py`` builds on.

A hidden check has two halves (see the instructors' page of the book):

- an **export snippet**, source code run in the student's kernel after the exercise section.
  It starts with :data:`KERNEL_HELPERS`, builds hidden inputs, calls the student's function
  through ``_call`` (which never raises) and leaves a JSON-able value in ``_export``;
- a **judge**, a function run in the grader's process that compares the student's export
  with the reference export (the same snippet run on the reference solution) and returns a
  :class:`~course_utils.checking.Verdict`, or stops early with
  :func:`~course_utils.checking.fail`, exactly as a visible check does.

Nothing here is secret: the hidden inputs, the expected values and the quiz explanations
live in the instructors' tree, never in this package.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils.checking import Verdict, diagnose, fail, refusal
from course_utils.grading.wording import safe_error
from course_utils.watch import watched_call

Judge = Callable[[Any, Any], Verdict]


@dataclass(frozen=True)
class Answers:
    """An exercise's reference solution, the wrong answers its checks must reject, and taught code.

    ``solution`` is the source a student could paste into the exercise cell; ``wrong`` holds
    (what is wrong, source) pairs, each a mistake students make; ``taught`` lists code the chapter
    shows on purpose and a solution may repeat (the leak scan does not search for it). Declared in
    ``instructor/chNN/solutions.py`` under a name of the author's choice, never under the id.
    """

    solution: str
    wrong: Sequence[tuple[str, str]] = ()
    taught: Sequence[str] = ()


@dataclass(frozen=True)
class HiddenCheck:
    """One hidden check, declared once in ``instructor/chNN/checks.py``'s ``CHECKS`` list.

    The id is typed here and nowhere else in the hidden tree: the export snippet, the judge, the
    points and the reference answers all hang off this one record.
    """

    id: str  # "chNN.name", as in the notebook's exercise cell
    points: float
    export: str  # snippet run in the student's kernel (see snippet, numpy_only, watched)
    judge: Judge  # judge(student_export, reference_export) -> Verdict, in the grader's process
    answers: Answers = field(default_factory=lambda: Answers(""))
    # Graded again in a second, fresh kernel where no framework can be imported (see the runner):
    # None means yes exactly when the export was made by numpy_only (or watched without refused_names).
    fresh_kernel: bool | None = None

    @property
    def numpy_only(self) -> bool:
        """Whether the grader runs this exercise again in the kernel without frameworks."""
        return NUMPY_ONLY_MARK in self.export if self.fresh_kernel is None else bool(self.fresh_kernel)


# The line numpy_only puts in its snippet: the grader runs such exercises again without frameworks.
NUMPY_ONLY_MARK = "# course-grader: numpy-only, graded again in a kernel without frameworks"


# Kernel side. Plain source text, prepended to every snippet: the snippet runs on a copy of the
# student's namespace, so ``globals()`` below is that namespace. Every name starts with "_" so
# that it cannot collide with the student's own.
KERNEL_HELPERS = '''
def _plain(value, _depth=0):
    """A student's result as JSON-able data: arrays stay arrays, objects become their type's name."""
    import numpy as _np
    if _depth > 20:
        return {"__object__": "a structure nested too deeply"}
    if hasattr(value, "numpy") and callable(value.numpy):
        try:
            value = value.numpy()
        except Exception:
            return {"__object__": f"an object of type {type(value).__name__}"}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, _np.generic):
        return value.item()
    if isinstance(value, _np.ndarray):
        return value if value.dtype.kind in "biuf" else {"__object__": f"an array of {value.dtype}"}
    if isinstance(value, (list, tuple)):
        return [_plain(v, _depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v, _depth + 1) for k, v in value.items()}
    return {"__object__": f"an object of type {type(value).__name__}"}

def _run(_name, *args, **kwargs):
    """Call the student's function by name: {"ok": its result as it is} or {"error": what went wrong}."""
    _fn = globals().get(_name)
    if _fn is None:
        return {"error": f"{_name} is not defined: its exercise cell did not define it (look for an error there)"}
    if not callable(_fn):
        return {"error": f"{_name} should be a function, but it is an object of type {type(_fn).__name__}"}
    try:
        return {"ok": _fn(*args, **kwargs)}
    except NotImplementedError:
        return {"error": "NotImplementedError (the stub is not completed yet)"}
    except Exception as _err:
        return {"error": f"{type(_err).__name__}: {_err}"}

def _call(_name, *args, **kwargs):
    """Like _run, with the result reduced to JSON-able data by _plain."""
    _result = _run(_name, *args, **kwargs)
    if "ok" in _result:
        _result["ok"] = _plain(_result["ok"])
    return _result
'''

# The export snippet of every quiz: the student's answers, reduced to plain values.
QUIZ_EXPORT = '''
def _answer(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    try:
        return float(value)
    except Exception:
        return str(value)[:50]
_export = {"answers": {str(k): _answer(v) for k, v in quiz_answers.items()}
           if isinstance(globals().get("quiz_answers"), dict) else None}
'''


def snippet(source: str) -> str:
    """An export snippet: the kernel helpers, then the exercise's own source."""
    return KERNEL_HELPERS + "\n" + source


def _watch_source() -> str:
    """The watcher's source as the kernel helper ``_watched_call`` (nothing imported from course_utils there)."""
    return inspect.getsource(watched_call).replace("def watched_call(", "def _watched_call(", 1)


def watched(
    source: str, name: str | None, refused_names: Iterable[str] | None = None, time_limit: float | None = None
) -> str:
    """An export snippet whose calls of ``name`` run under the watcher (see course_utils.watch).

    Every ``_call(name, ...)`` of the snippet, the conversion of the result included, runs while
    the watcher notes which framework code executes; the export's ``"frameworks"`` lists what it
    saw, for :func:`refuse_frameworks` in the judge. The watcher is shipped as source, so a
    notebook that patched ``course_utils`` changes nothing. With ``refused_names`` only framework
    functions of those names count (an exercise that must use TensorFlow but not the one function
    that answers it). A snippet that calls the student's code otherwise (``name`` None) uses
    ``_watched(thunk)`` itself: it returns ``{"ok": value}`` or ``{"error": ...}`` like ``_run``.
    With ``time_limit`` (seconds) each watched call that runs longer is stopped, and its result is
    ``{"error": "TimeoutError: ..."}``: a bound that also holds where no cell timeout does (the
    tests run the snippets in their own process).
    """
    refused = None if refused_names is None else tuple(refused_names)
    limit = "" if time_limit is None else f", time_limit={float(time_limit)!r}"
    wrapper = f"""
_frameworks_seen, _calls_watched = set(), [0]
def _watched(_thunk):
    (_kind, _value), _used = _watched_call(_thunk, refused_names={refused!r}{limit})
    _frameworks_seen.update(_used)
    _calls_watched[0] += 1
    return {{"ok": _value}} if _kind == "ok" else {{"error": f"{{type(_value).__name__}}: {{_value}}"}}
_unwatched_call = _call
def _call(_name, *args, **kwargs):
    if _name != {name!r}:
        return _unwatched_call(_name, *args, **kwargs)
    _result = _watched(lambda: _unwatched_call(_name, *args, **kwargs))
    return _result["ok"] if "ok" in _result else _result
"""
    return snippet(
        (NUMPY_ONLY_MARK + "\n" if refused is None else "")
        + _watch_source()
        + wrapper
        + source
        + "\n_export['frameworks'] = sorted(_frameworks_seen)\n_export['watched'] = _calls_watched[0]\n"
    )


def numpy_only(source: str, name: str, time_limit: float | None = None) -> str:
    """An export snippet for an exercise that asks for NumPy code: ``watched`` with every framework refused.

    The grader also runs such an exercise again in a second, fresh kernel where no framework can be
    imported (a blocker installed before any of the student's code), and keeps the lower of the two
    verdicts: a notebook that forges the export channel (the watcher's list included) gains nothing,
    since the values it sends from there come from code that cannot have used a framework. The
    snippet must therefore need nothing but NumPy itself (the chapter's PRELUDE may import Keras:
    there it gives a module that refuses every use).
    """
    return watched(source, name, time_limit=time_limit)


def refuse_frameworks(student: Any, name: str, message: str | None = None) -> None:
    """In a judge: fail when a :func:`watched` export says the function ran a framework, or says nothing.

    Fails closed: an export without the watcher's list (removed or replaced by the notebook) is refused
    like one that lists a framework. ``message`` replaces the NumPy refusal's text.
    """
    used = student.get("frameworks") if isinstance(student, Mapping) else None
    if not isinstance(used, list) or not all(isinstance(u, str) for u in used):
        fail(f"{name}: the hidden check could not confirm that it runs without Keras or TensorFlow.")
    if used:
        fail(message or refusal(name, used))


# Grader side: building blocks of judges.


def sibling(checks_file: str, name: str) -> Any:
    """Import a module that lies next to a chapter's checks.py (its oracles), under a private name.

    The hidden tree is not a package and is loaded from files, so ``checks.py`` cannot import its
    neighbours by name; the oracles that compute expected values stay in the tree this way.
    """
    path = Path(checks_file).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_course_hidden_{path.parent.name}_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ok(result: Any, name: str, allow_none: bool = False) -> Any:
    """The value of a ``_call`` result, or a failing verdict that says what went wrong."""
    if not isinstance(result, Mapping):
        fail(f"{name}: the hidden check could not read your result.")
    if result.get("error"):
        error = safe_error(result["error"])  # its message could carry the hidden inputs
        fail(f"{name} raised {error}" if "not defined" not in error else error + ".")
    value = result.get("ok")
    if value is None and not allow_none:
        fail(f"{name} returned None: did you forget `return`?")
    if isinstance(value, Mapping) and "__object__" in value:
        fail(f"{name} returned {safe_error(value['__object__'])[:60]}, not numbers.")
    return value


def mismatch(got: Any, expected: Any, name: str = "the result", **tolerances: Any) -> str | None:
    """diagnose() for hidden checks: the kind of mistake, never a number that would reveal the expected values."""
    return diagnose(got, expected, name, quantify=False, **tolerances)


def each_case(
    student: Mapping[str, Any], reference: Mapping[str, Any], name: str, key: str = "cases", allow_none: bool = False
) -> Iterator[tuple[int, Any, Any]]:
    """(case number, the student's value, the reference case) for every hidden case.

    Each case is a dict holding at least ``_call``'s result; the reference case is the whole
    dict (its value is ``case["ok"]``), so a judge can also use anything else the snippet
    recorded. Stops with a specific failure at the first case where the student's function
    raised, returned None (unless ``allow_none``) or returned something that is not numbers.
    """
    cases, expected = student.get(key), reference[key]
    if not isinstance(cases, list) or len(cases) != len(expected):
        fail(f"{name}: the hidden check could not read your results.")
    for i, (got, exp) in enumerate(zip(cases, expected), start=1):
        if not isinstance(got, Mapping):
            fail(f"{name}: the hidden check could not read your results.")
        try:
            value = ok(got, name, allow_none)
        except Exception as stop:  # add the case number to the message
            fail(f"Hidden case {i}: {stop}")
        yield i, value, exp


def _same_answer(given: Any, expected: Any, rtol: float) -> bool:
    """A letter case-insensitively, a number within a relative tolerance."""
    if isinstance(expected, str):
        return isinstance(given, str) and given.strip().upper() == expected.strip().upper()
    if isinstance(given, bool) or given is None:
        return False
    try:
        g = float(given)
    except (TypeError, ValueError):
        return False
    return math.isfinite(g) and math.isclose(g, float(expected), rel_tol=rtol, abs_tol=1e-9)


def _given(answer: Any) -> str:
    """How the feedback names a student's answer."""
    return "not answered" if answer is None else f"your answer: {repr(answer)[:40]}"  # the student's text


def quiz_judge(
    explanations: Mapping[str, str], rtol: float = 2e-3, tolerances: Mapping[str, float] | None = None
) -> Judge:
    """The judge of a quiz: one point per right answer, and the explanation of every wrong one.

    ``explanations`` maps each question ("q1") to the text that explains its right answer.
    A number is right within the relative tolerance ``rtol``, or within the question's own in
    ``tolerances`` ({"q4": 0} compares a count exactly, so that 4705 is not taken for 4711).
    The explanations of the questions a student got wrong go into the verdict's ``details``,
    which the grader writes into that student's feedback file, and nowhere else.
    """

    tolerance = dict(tolerances or {})
    unknown = set(tolerance) - set(explanations)
    if unknown:
        raise ValueError(f"Tolerances for questions the quiz does not have: {sorted(unknown)}.")

    def judge(student: Mapping[str, Any], reference: Mapping[str, Any]) -> Verdict:
        key = reference["answers"]
        answers = student.get("answers")
        if not isinstance(answers, Mapping):
            answers = {}
        wrong = [q for q in key if not _same_answer(answers.get(q), key[q], tolerance.get(q, rtol))]
        right = len(key) - len(wrong)
        details = tuple(f"**{q}** ({_given(answers.get(q))}). {explanations[q]}" for q in wrong)
        message = f"{right} of {len(key)} quiz answers are right."
        if wrong:
            message += f" Explanations of {', '.join(wrong)} are below."
        return Verdict(not wrong, message, score=right / len(key), details=details)

    judge.explanations = dict(explanations)  # type: ignore[attr-defined]  # for the leak scan
    return judge
