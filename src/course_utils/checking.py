"""Verdicts and the building blocks of checks, shared by visible and hidden checks.

A *check* is a function that looks at a student's result and returns a :class:`Verdict`.
Visible checks (``course_utils.exercises``) run in the student's notebook; hidden checks
(the instructors' tree, judged by ``course_utils.grade``) run in the grader's process. Both
write the same idiom::

    got = as_array(call(student_fn, x), "f(x)")
    if got.shape != x.shape:
        fail("f(x) should have the shape of x")
    expect_close(got, expected, "f(x)")
    return Verdict(True, "Correct.")

:func:`fail` stops a check at the first problem with a specific message; whoever runs the
check (``run_check`` or the grader) turns it into the failing verdict. This module imports
only NumPy, so the grader can use it without loading Keras.
"""

from __future__ import annotations

import inspect
import math
import sys
import types
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn

import numpy as np

from course_utils.watch import FRAMEWORKS, watched_call

PASS_MARK = "\u2705"  # ✅
FAIL_MARK = "\u274c"  # ❌


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: pass/fail, a specific message, a score in [0, 1]."""

    passed: bool
    message: str
    score: float | None = None  # None: 1.0 if passed else 0.0
    details: tuple[str, ...] = ()  # longer notes for the feedback file (quiz explanations)

    @property
    def fraction(self) -> float:
        """The score as a fraction of the exercise's points."""
        if self.score is None:
            return 1.0 if self.passed else 0.0
        return float(min(1.0, max(0.0, self.score)))

    def line(self, exercise_id: str) -> str:
        """The one line a student sees."""
        return f"{PASS_MARK if self.passed else FAIL_MARK} [{exercise_id}] {self.message}"


class CheckFailed(Exception):
    """Raised inside a check (visible or hidden) to stop at the first problem found."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.message)
        self.verdict = verdict


def fail(message: str) -> NoReturn:
    """Stop the current check with a failing verdict."""
    raise CheckFailed(Verdict(False, message))


def call(fn: Any, *args: Any, what: str | None = None, **kwargs: Any) -> Any:
    """Call the student's function, turning a stub or a crash into a specific failure."""
    name = what or getattr(fn, "__name__", "your function")
    if fn is None or fn is Ellipsis:
        fail(f"{name} is not defined yet: run the exercise cell above first.")
    if not callable(fn):
        fail(f"{name} should be a function, but it is an object of type {type(fn).__name__}.")
    try:
        return fn(*args, **kwargs)
    except CheckFailed:  # a numpy_only wrapper's refusal, already a verdict
        raise
    except NotImplementedError:
        fail(f"Not implemented yet: replace the `raise NotImplementedError` in {name} with your code.")
    except (Exception, SystemExit) as err:
        fail(f"{name} raised {type(err).__name__}: {err}")


def as_array(value: Any, name: str = "the result") -> np.ndarray:
    """Convert a result (NumPy, TensorFlow tensor, list, number) to a NumPy array, or fail."""
    if value is None:
        fail(f"{name} is None: did you forget to `return` it?")
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    try:
        arr = np.asarray(value)
    except Exception as err:
        fail(f"{name} could not be turned into an array ({type(err).__name__}: {err}).")
    if arr.dtype == object:
        fail(f"{name} is not numeric (it is an object of type {type(value).__name__} holding mixed objects).")
    return arr


def diagnose(
    got: Any,
    expected: Any,
    name: str = "the result",
    rtol: float = 1e-5,
    atol: float = 1e-7,
    check_dtype: bool = False,
    quantify: bool = True,
) -> str | None:
    """None if `got` matches `expected`, else a hint that says *how* it differs.

    The hints look for the usual mistakes: a missing return, a wrong shape (or a
    transposed one), a wrong dtype, NaN or infinite values, a result off by a constant
    factor, by a constant offset or by its sign. With ``quantify=False`` (hidden checks) a
    hint names the kind of mistake without the factor, the offset or the difference: a
    student who knows their own outputs could compute the hidden expected values from them.
    """
    try:
        g = as_array(got, name)
    except CheckFailed as stop:
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
    if nz.sum() >= 2:  # any two single numbers differ "by a constant factor": that says nothing
        ratios = gv[nz] / ev[nz]
        r = float(np.median(ratios))
        if np.allclose(ratios, r, rtol=1e-4) and not math.isclose(r, 1.0, rel_tol=1e-4) and r != 0:
            return f"{name} is off by a constant factor" + (
                f": it is about {r:.4g} times the expected values." if quantify else "."
            )
    if gv.size > 1:
        diff = gv - ev
        d = float(np.median(diff))
        if np.allclose(diff, d, atol=max(atol, 1e-6)) and abs(d) > atol:
            return f"{name} is off by a constant offset" + (f" of about {d:.4g}." if quantify else ".")
    if not quantify:
        return f"{name} differs from the expected values."
    worst = float(np.max(np.abs(gv - ev))) if gv.size else float("nan")
    return f"{name} differs from the expected values (largest absolute difference {worst:.3g})."


def expect_close(got: Any, expected: Any, name: str = "the result", **kwargs: Any) -> np.ndarray:
    """Fail with diagnose()'s hint unless `got` matches `expected`; return got as an array."""
    hint = diagnose(got, expected, name, **kwargs)
    if hint is not None:
        fail(hint)
    return as_array(got, name)


def _materialized(value: Any) -> Any:
    """A result as NumPy data, so that anything lazy in it runs while the watcher still watches.

    An object whose ``__array__``, ``__float__`` or ``numpy()`` calls Keras would otherwise compute
    its answer later, in the check, where nobody watches.
    """
    if isinstance(value, (tuple, list)):
        items = [_materialized(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic)):
        return value
    if hasattr(value, "numpy") and callable(value.numpy):
        value = value.numpy()
    try:
        return np.asarray(value)
    except Exception:
        return value  # as_array will say what is wrong with it


def numpy_only(fn: Any, name: str, _watch: Any = watched_call, time_limit: float | None = None) -> Any:
    """fn, watched: calling it fails the check when Keras, TensorFlow, ... ran (see course_utils.watch).

    An exercise that asks for NumPy code is compared with Keras, so calling Keras would prove
    nothing. What runs decides, not what the code spells: an alias, a module-level variable,
    ``importlib``, ``getattr``, a callable object, a closure or an import hook are all seen.
    The watcher is bound here (a default argument), so patching ``course_utils`` afterwards does
    not change what this check uses. Anything that is not callable is returned as it is, for
    :func:`call` to report. With ``time_limit`` (seconds) a call that runs longer is stopped and
    raises ``TimeoutError`` (see :func:`course_utils.watch.watched_call`).
    """
    if fn is None or fn is Ellipsis or not callable(fn):
        return fn
    referenced = framework_references(fn)

    def watched(*args: Any, **kwargs: Any) -> Any:
        if referenced:
            fail(refusal(name, referenced))
        limit = {} if time_limit is None else {"time_limit": time_limit}
        (kind, value), used = _watch(lambda: _materialized(fn(*args, **kwargs)), **limit)
        if used:
            fail(refusal(name, used))
        if kind == "error":
            raise value
        return value

    watched.__name__ = name
    return watched


def _framework_of(obj: Any, frameworks: tuple[str, ...]) -> str | None:
    """The framework a module, function or object comes from, or None (NumPy and the rest)."""

    def top(module: Any) -> str | None:
        return module.split(".", 1)[0] if isinstance(module, str) else None

    if isinstance(obj, types.ModuleType):
        module = top(obj.__name__)
        return module if module in frameworks else None
    for module in (getattr(obj, "__module__", None), type(obj).__module__):
        if top(module) in frameworks:
            return top(module)
    if type(obj).__name__ == "ufunc":  # a ufunc knows no module: find who holds it
        key = getattr(obj, "__name__", None)
        for module_name, module in list(sys.modules.items()):
            if top(module_name) in frameworks and getattr(module, "__dict__", {}).get(key) is obj:
                return top(module_name)
    return None


def framework_references(fn: Any, frameworks: tuple[str, ...] = FRAMEWORKS, depth: int = 3) -> list[str]:
    """Frameworks that fn's code names through its globals, closure or defaults (and its helpers', in turn).

    The watcher (course_utils.watch) sees what *runs* in Python and C functions, but not a ufunc
    such as ``scipy.special.huber``, which NumPy's machinery calls without a profile event. So the
    visible checks also read what the function's code refers to (:func:`reachable`'s roots): a
    framework module (``import scipy.special as ss``) or an object taken from one. Only names the
    code uses count, not everything the notebook imported. The hidden checks close the rest in a
    kernel without frameworks.
    """
    roots = reachable(fn, depth, ("numpy", *frameworks)).roots
    return sorted({f for f in (_framework_of(obj, frameworks) for obj in roots) if f is not None})


def names_used(fn: Any, depth: int = 3) -> set[str]:
    """Every name (variables, attributes) in fn's code and in the code of the helpers it reaches."""
    return set(reachable(fn, depth).names)


def referenced_objects(fn: Any, depth: int = 3) -> list[Any]:
    """The objects fn's code can reach by name: :func:`reachable`'s objects.

    A check can then refuse an *object* (``x is np.logaddexp``) however the student's code names
    it: an alias, ``from numpy import ... as``, ``getattr(np, "...")`` with a literal name.
    """
    return list(reachable(fn, depth).objects)


class Reachable(NamedTuple):
    """What a function's code reaches by name (see :func:`reachable`)."""

    names: frozenset[str]  # every name the code spells: globals, attributes, arguments, locals
    roots: tuple[Any, ...]  # what those names hold: the globals named, closure cells, defaults
    objects: tuple[Any, ...]  # the roots, then each root's attribute of every name, one level down


def reachable(fn: Any, depth: int = 3, libraries: tuple[str, ...] = ("numpy", *FRAMEWORKS)) -> Reachable:
    """The names fn's code spells and the objects they reach, in fn and in the helpers it reaches.

    One function's code (its nested functions, lambdas and comprehensions included) spells
    ``names`` (``co_names``, ``co_varnames``) and string constants that could be names
    (``getattr(np, "logaddexp")``). Its ``roots`` are the globals of those names and of the
    strings (a module-level variable, an alias, ``from numpy import ... as``), its closure cells
    and its default arguments; its ``objects`` add, for every root, that root's attribute of each
    of those names (``np.logaddexp``, ``np.logaddexp.reduce``). Every root that is a plain
    function from none of ``libraries`` (the student's own helper) is read in turn, breadth
    first, up to ``depth`` calls away. Objects are kept once each, by identity.

    This reads code; it does not run it. A name built at run time (``getattr(np,
    "".join(["log", "addexp"]))``, ``vars(np)[...]``) is not seen (``"log" + "addexp"`` is: Python
    folds it into one constant), nor an object two attributes below a root (``np.core.umath.logaddexp``
    is seen only by its name): what must never run is watched at run time (course_utils.watch,
    :func:`call_without_logaddexp`). Self-contained (the module-level names it uses are ``types``,
    ``FRAMEWORKS`` and ``Reachable``), so that the hidden checks ship its source.
    """

    def spelled(code: types.CodeType, names: set[str], lookups: set[str]) -> None:
        names.update(code.co_names, code.co_varnames)
        lookups.update(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                spelled(const, names, lookups)
            elif isinstance(const, str) and const.isidentifier():
                lookups.add(const)

    all_names: set[str] = set()
    roots: list[Any] = []
    objects: list[Any] = []
    root_ids: set[int] = set()
    object_ids: set[int] = set()

    def keep(obj: Any, where: list[Any], ids: set[int]) -> None:
        if id(obj) not in ids:  # everything kept stays alive in `where`, so ids are not reused
            ids.add(id(obj))
            where.append(obj)

    seen: set[int] = set()
    frontier = [fn]
    for _level in range(depth + 1):
        following = []
        for f in frontier:
            code = getattr(f, "__code__", None)
            if id(f) in seen or not isinstance(code, types.CodeType):
                continue
            seen.add(id(f))
            names: set[str] = set()
            lookups: set[str] = set()
            spelled(code, names, lookups)
            all_names |= names
            namespace = getattr(f, "__globals__", None) or {}
            found = [namespace[n] for n in sorted(lookups) if n in namespace]
            for cell in getattr(f, "__closure__", None) or ():
                try:
                    found.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
            found += list(getattr(f, "__defaults__", None) or ())
            found += list((getattr(f, "__kwdefaults__", None) or {}).values())
            for root in found:
                keep(root, roots, root_ids)
                keep(root, objects, object_ids)
                for name in sorted(lookups):
                    try:
                        attribute = getattr(root, name, None)
                    except Exception:  # a property may raise anything
                        continue
                    if attribute is not None:
                        keep(attribute, objects, object_ids)
                module = getattr(root, "__module__", None)
                top = module.split(".", 1)[0] if isinstance(module, str) else None
                if isinstance(root, types.FunctionType) and top not in libraries:
                    following.append(root)
        frontier = following
    return Reachable(frozenset(all_names), tuple(roots), tuple(objects))


def is_logaddexp(obj: Any) -> bool:
    """True for np.logaddexp, np.logaddexp2 (any ufunc named logaddexp...) and their methods."""
    for candidate in (obj, getattr(obj, "__self__", None)):
        if candidate is None:
            continue
        if candidate is np.logaddexp or candidate is np.logaddexp2:
            return True
        if isinstance(candidate, np.ufunc) and candidate.__name__.startswith("logaddexp"):
            return True
    return False


def uses_logaddexp(fn: Any) -> bool:
    """Whether fn's code names logaddexp or reaches a logaddexp ufunc by any alias (see :func:`reachable`)."""
    if not callable(fn):
        return False
    found = reachable(fn)
    return any(name.startswith("logaddexp") for name in found.names) or any(is_logaddexp(o) for o in found.objects)


class _Tripwire:
    """Stands in for a ufunc while a check runs: notes any use, then does what the ufunc does."""

    def __init__(self, ufunc: Any, tripped: list[bool]):
        self._ufunc, self._tripped = ufunc, tripped

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._tripped[0] = True
        return self._ufunc(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # .reduce, .accumulate, ...
        self._tripped[0] = True
        return getattr(self._ufunc, name)


def call_without_logaddexp(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, bool]:
    """fn(*args, **kwargs) while every NumPy module holds a tripwire instead of logaddexp(2).

    Returns (result, used): used is True when the call reached np.logaddexp or np.logaddexp2 at run
    time, however it fetched them (``getattr(np, "".join(["log", "addexp"]))``, ``vars(np)[...]``), which no
    reading of the code can see. The real ufuncs are back in place whatever happens.
    """
    tripped = [False]
    real = {"logaddexp": np.logaddexp, "logaddexp2": np.logaddexp2}
    patched = []
    for module in [m for name, m in list(sys.modules.items()) if name.split(".")[0] == "numpy"]:
        namespace = getattr(module, "__dict__", {})
        for name, ufunc in real.items():
            if namespace.get(name) is ufunc:
                patched.append((namespace, name, ufunc))
                namespace[name] = _Tripwire(ufunc, tripped)
    try:
        result = fn(*args, **kwargs)
    finally:
        for namespace, name, ufunc in patched:
            namespace[name] = ufunc
    return result, tripped[0]


# What the shipped pieces need at module level: run first in the kernel's module of their own.
_KERNEL_PRELUDE = f"""from __future__ import annotations

import sys
import types
from typing import Any, NamedTuple

import numpy as np

FRAMEWORKS = {FRAMEWORKS!r}
"""
_SHIPPED = (Reachable, reachable, is_logaddexp, uses_logaddexp, _Tripwire, call_without_logaddexp)


def kernel_module_source(variable: str) -> str:
    """Source that binds ``variable`` to a module of the walker and the logaddexp tripwire, for a kernel.

    A hidden check runs in the student's kernel, where the notebook may have patched
    ``course_utils``; so it ships this module's own source (``inspect.getsource``) of
    :func:`reachable`, :func:`uses_logaddexp`, :func:`call_without_logaddexp` and what they use,
    run in a fresh module (``variable.uses_logaddexp(fn)``), where the student's names cannot
    shadow theirs. It needs NumPy and the standard library only (the kernel without frameworks).
    """
    source = _KERNEL_PRELUDE + "\n\n" + "\n\n".join(inspect.getsource(obj) for obj in _SHIPPED)
    return (
        f"import types as _types\n{variable} = _types.ModuleType('_course_checking')\n"
        f"exec(compile({source!r}, '<course_utils.checking>', 'exec'), {variable}.__dict__)\n"
        "del _types\n"
    )


def refusal(name: str, used: list[str]) -> str:
    """The message of a framework refusal, the same for visible and hidden checks."""
    libraries = [u for u in used if not u.startswith("tampering")]
    if libraries:
        return (
            f"{name} runs {', '.join(libraries)[:60]}: write it with NumPy. The check compares with Keras, so "
            "calling Keras (by any name) would prove nothing."
        )
    return (
        f"{name} interferes with the check while it runs ({used[0][len('tampering: ') :][:60]}): write it with NumPy."
    )
