"""The grader's records: settings and limits, a submission, its plan, its run and its results.

Plain dataclasses, no behaviour beyond a property or two: every stage of the grader
(``plan``, ``runner``, ``judge``, ``reports``, ``batch``) passes these between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXPORT_MIME = "application/x-course-export+json"  # the display type an export cell sends back
DENIED_MARK = "course-grader-denied"  # in the message of every access the guard refuses
MAX_MESSAGE = 300  # characters of a student-caused error message shown in feedback
GRADING_ERROR_NOTE = (
    "Grading error: the grader failed on its side, so this notebook was not graded and no grade is "
    "given. This is not a problem with your notebook; your instructor has the details."
)


class GraderError(Exception):
    """Misuse of the grader (bad paths, a broken instructor tree): reported, exit code 2."""


class CanaryFailed(GraderError):
    """The reference solutions do not score full marks in the sandbox: nobody is graded, exit code 3."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's run."""

    cell_timeout: float = 120.0  # seconds per cell (graded cells and each export)
    notebook_timeout: float = 600.0  # seconds for the whole notebook, kernel start included
    memory_mb: int = 4096  # resident memory of the kernel and its children
    disk_mb: int = 1024  # the sandbox's in-memory /tmp, which holds the kernel's working folder
    max_output_kb: int = 256  # notebook output kept in memory; the rest is dropped
    max_export_kb: int = 4096  # JSON exported per exercise


@dataclass(frozen=True)
class Settings:
    """What to grade, where the hidden tree is, where the reports go."""

    submissions: Path  # a notebook or a folder of notebooks
    instructor: Path  # the hidden tree (instructor/chNN/checks.py, solutions.py)
    out: Path  # output folder for grades and feedback
    chapter: str | None = None  # expected chapter (e.g. "ch00"); None: each notebook's own
    jobs: int = 2  # submissions run in parallel
    limits: Limits = field(default_factory=Limits)
    feedback_format: str = "md"  # "md" or "html"
    unsafe_no_sandbox: bool = False  # grade without OS isolation when bubblewrap is missing


@dataclass
class Submission:
    """One notebook to grade and the student it belongs to."""

    student: str  # unique key (file stem or folder name, disambiguated)
    path: Path  # the original, never modified


@dataclass
class Plan:
    """What the grader runs for one submission, and what it already knows is wrong."""

    chapter: str | None  # the chapter graded (None: cannot grade)
    cells: list[Any] = field(default_factory=list)  # code cells of the exercise section
    positions: list[int] = field(default_factory=list)  # each planned cell's number in the notebook (1-based)
    present: set[str] = field(default_factory=set)  # exercise ids found in the notebook
    notes: list[str] = field(default_factory=list)  # lines for the report
    fatal: str | None = None  # why nothing can be graded


@dataclass
class RunResult:
    """What came back from a kernel: raw exports (still untrusted text) and notes."""

    exports: dict[str, str] = field(default_factory=dict)  # id -> JSON text from the kernel
    notes: list[str] = field(default_factory=list)
    timed_out: set[str] = field(default_factory=set)  # ids whose export hit the cell limit
    stopped: str | None = None  # why the run ended early
    denied: list[str] = field(default_factory=list)  # accesses the guard refused
    seconds: float = 0.0
    survivors: int = 0  # processes of this submission still alive after its kernel was stopped
    mark: str = ""  # the value of RUN_MARK in the environment of every process of this run
    grader_error: str | None = None  # the run failed on the grader's side (kernel start, guard cell)
    cell_errors: dict[int, str] = field(default_factory=dict)  # planned cell index -> exception name
    export_seconds: dict[str, float] = field(default_factory=dict)  # id -> export cell time, grader's clock
    forged: list[str] = field(default_factory=list)  # ids whose export cell carried more than one payload
    fresh: RunResult | None = None  # the NumPy-only exercises run again in a kernel without frameworks


@dataclass
class ExerciseResult:
    """The grade of one exercise for one submission."""

    exercise: str
    points: float
    max_points: float
    passed: bool
    message: str
    details: list[str] = field(default_factory=list)  # e.g. explanations of wrong quiz answers


@dataclass
class SubmissionResult:
    """Everything the grader knows about one submission."""

    student: str
    path: str
    chapter: str | None
    score: float = 0.0
    max_score: float = 0.0
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # shown to the student
    internal: list[str] = field(default_factory=list)  # instructor only (grades.json)
    seconds: float = 0.0
    survivors: int = 0  # processes of this submission found alive after its kernel was stopped
    mark: str = ""  # the run's mark, to look for its processes once the batch is over
    grading_error: str | None = None  # why the grader failed on its side: no grade is given

    @property
    def graded(self) -> bool:
        """False when a failure on the grader's side left this submission without a grade."""
        return self.grading_error is None

    @property
    def percent(self) -> float:
        """Score as a percentage (0 when nothing could be graded)."""
        return 100.0 * self.score / self.max_score if self.max_score else 0.0
