"""The hidden tree: each chapter's hidden checks, reference solutions and reference exports."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils.checking import Verdict
from course_utils.grading.codec import decode, encode
from course_utils.grading.types import GraderError

Judge = Callable[[Any, Any], Verdict]


@dataclass
class HiddenChapter:
    """One chapter's hidden checks, loaded from instructor/chNN/checks.py and solutions.py.

    checks.py defines ``CHECKS``, one ``HiddenCheck`` record per exercise (its id, points, the
    snippet that leaves a JSON-able value in ``_export``, the judge and the reference answers:
    solution, plausible wrong answers, code the chapter shows on purpose), and optionally
    ``PRELUDE`` (source run before every snippet). See :func:`load_chapter`.
    """

    chapter: str  # "ch00"
    exports: dict[str, str]  # id -> snippet run in the student's kernel
    judges: dict[str, Judge]  # id -> judge run in the grader
    points: dict[str, float]  # id -> points
    prelude: str = ""  # imports every snippet may rely on
    solutions: dict[str, str] = field(default_factory=dict)
    wrong: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    taught: dict[str, list[str]] = field(default_factory=dict)  # id -> code the chapter shows on purpose
    references: dict[str, Any] | None = None  # id -> reference export (computed once)
    numpy_only: set[str] = field(default_factory=set)  # ids graded again in a kernel without frameworks

    @property
    def ids(self) -> list[str]:
        """Exercise ids in the order of EXPORTS."""
        return list(self.exports)

    @property
    def max_points(self) -> float:
        """Total points of the chapter."""
        return float(sum(self.points.values()))


@dataclass
class InstructorTree:
    """All chapters of the hidden tree, loaded into memory, with a digest of its files."""

    root: Path
    chapters: dict[str, HiddenChapter]
    digest: str


def tree_digest(root: Path) -> str:
    """SHA-256 over the relative paths and contents of every file under root."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _load_module(path: Path, name: str) -> Any:
    """Import one Python file of the hidden tree under a private module name."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GraderError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise GraderError(f"{path} failed to import: {type(err).__name__}: {err}") from err
    return module


def _records(folder: Path, checks: Any) -> list[Any]:
    """The chapter's HiddenCheck records, validated: ids unique, of this chapter, points positive."""
    from course_utils.grading.kit import HiddenCheck

    records = getattr(checks, "CHECKS", None)
    if not isinstance(records, (list, tuple)) or not all(isinstance(r, HiddenCheck) for r in records):
        raise GraderError(f"{folder}/checks.py must define CHECKS, a list of HiddenCheck records")
    ids = [r.id for r in records]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise GraderError(f"{folder}/checks.py: exercise ids declared twice: {duplicated}")
    bad = [r.id for r in records if not r.points > 0 or not callable(r.judge) or not isinstance(r.export, str)]
    if bad:
        raise GraderError(f"{folder}/checks.py: records need positive points, a snippet and a judge: {bad}")
    return list(records)


def load_chapter(folder: Path) -> HiddenChapter:
    """Load and validate instructor/chNN (raises GraderError with a clear message).

    A chapter declares ``CHECKS``, one :class:`~course_utils.grading.kit.HiddenCheck` record per
    exercise (id, points, export, judge, answers). The older layout, parallel dicts ``EXPORTS``,
    ``JUDGES`` and ``POINTS`` with ``SOLUTIONS``/``WRONG``/``TAUGHT`` in solutions.py, still loads.
    """
    from course_utils.grading.kit import NUMPY_ONLY_MARK

    chapter = folder.name
    checks = _load_module(folder / "checks.py", f"_course_hidden_{chapter}_checks")
    solutions: dict[str, str] = {}
    wrong: dict[str, list[tuple[str, str]]] = {}
    taught: dict[str, list[str]] = {}
    if hasattr(checks, "CHECKS"):
        records = _records(folder, checks)
        exports = {r.id: r.export for r in records}
        judges = {r.id: r.judge for r in records}
        points = {r.id: float(r.points) for r in records}
        solutions = {r.id: r.answers.solution for r in records if r.answers.solution}
        wrong = {r.id: [tuple(w) for w in r.answers.wrong] for r in records}
        taught = {r.id: list(r.answers.taught) for r in records if r.answers.taught}
        numpy_only = {r.id for r in records if r.numpy_only}
    else:
        exports, judges = getattr(checks, "EXPORTS", None), getattr(checks, "JUDGES", None)
        if not isinstance(exports, dict) or not isinstance(judges, dict):
            raise GraderError(f"{folder}/checks.py must define CHECKS (or the dicts EXPORTS and JUDGES)")
        if set(exports) != set(judges):
            raise GraderError(f"{folder}/checks.py: EXPORTS and JUDGES differ: {sorted(set(exports) ^ set(judges))}")
        points = {i: float(getattr(checks, "POINTS", {}).get(i, 1.0)) for i in exports}
        if (folder / "solutions.py").is_file():
            sol = _load_module(folder / "solutions.py", f"_course_hidden_{chapter}_solutions")
            solutions, wrong = dict(getattr(sol, "SOLUTIONS", {})), dict(getattr(sol, "WRONG", {}))
            taught = {k: list(v) for k, v in dict(getattr(sol, "TAUGHT", {})).items()}
        numpy_only = {i for i, source in exports.items() if NUMPY_ONLY_MARK in source}
    bad = [i for i in exports if not i.startswith(chapter + ".")]
    if bad:
        raise GraderError(f"{folder}/checks.py: exercise ids must start with '{chapter}.': {bad}")
    missing = sorted(set(exports) - set(solutions))
    if missing:
        raise GraderError(f"{folder}: no reference solution for {missing}")
    return HiddenChapter(
        chapter,
        dict(exports),
        dict(judges),
        points,
        getattr(checks, "PRELUDE", ""),
        solutions,
        {k: list(v) for k, v in wrong.items()},
        taught,
        numpy_only=numpy_only,
    )


def load_instructor_tree(root: Path) -> InstructorTree:
    """Load every instructor/chNN folder that has a checks.py."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise GraderError(f"instructor tree not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / "checks.py").is_file())
    if not folders:
        raise GraderError(f"no chapter folder with a checks.py in {root}")
    digest = tree_digest(root)
    return InstructorTree(root, {f.name: load_chapter(f) for f in folders}, digest)


def run_export_in_process(chapter: HiddenChapter, exercise_id: str, source: str) -> Any:
    """Run source (e.g. a reference solution) and the export snippet here; return the decoded export."""
    namespace: dict[str, Any] = {"__name__": "__course_reference__"}
    exec(
        compile(chapter.prelude + "\n" + source + "\n" + chapter.exports[exercise_id], f"<{exercise_id}>", "exec"),
        namespace,
    )
    return decode(encode(namespace["_export"]), max_chars=sys.maxsize)


def ensure_references(chapter: HiddenChapter) -> dict[str, Any]:
    """The reference export of every exercise, computed once in the grader's process."""
    if chapter.references is None:
        from course_utils.runtime import quiet_tensorflow, silenced_stderr

        quiet_tensorflow()  # the snippets may import TensorFlow: keep its C++ start-up lines quiet
        refs = {}
        for exercise_id in chapter.ids:
            try:
                with silenced_stderr():
                    refs[exercise_id] = run_export_in_process(chapter, exercise_id, chapter.solutions[exercise_id])
            except Exception as err:
                raise GraderError(
                    f"the reference solution of {exercise_id} fails its own export: {type(err).__name__}: {err}"
                ) from err
        chapter.references = refs
    return chapter.references
