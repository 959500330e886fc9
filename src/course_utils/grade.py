"""The instructors' grader: runs students' notebooks and judges them with hidden checks.

Usage::

    python -m course_utils.grade SUBMISSIONS --instructor PATH/TO/instructor --out OUT [options]
    course-grade SUBMISSIONS --instructor PATH/TO/instructor --out OUT [options]

SUBMISSIONS is one notebook or a folder of notebooks (``alice.ipynb`` or ``alice/whatever.ipynb``).
Each submission runs on a temporary copy in its own kernel: a guard cell, then the cells of its
exercise section, then one *export cell* per exercise, which calls the student's code on hidden
inputs and sends the results back as JSON. The results are judged here, in the grader's own
process, against the reference solutions; nothing a notebook redefines changes a verdict.

Outputs in OUT: ``grades.csv``, ``grades.json`` (everything, for the instructor) and
``feedback/<student>.md`` (or ``.html``): verdicts and hints only, never hidden code or values.

The hidden tree (``instructor/chNN/checks.py`` and ``solutions.py``) is described in
:class:`course_utils.grading.hidden.HiddenChapter` and in the instructors' page of the book.

This module is the command line only. The grader's stages live in ``course_utils.grading``,
one module each: ``types`` (records), ``codec`` (JSON of exports), ``hidden`` (the hidden tree),
``plan`` (what to run), ``kernel_side`` (code shipped into the student's kernel), ``runner``
(one kernel under limits), ``judge`` (verdicts, in this process), ``reports`` and ``batch``.
The names below are re-exported so that ``from course_utils import grade`` gives the whole API.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course_utils.checking import CheckFailed, Verdict
from course_utils.grading.batch import grade
from course_utils.grading.codec import decode, encode, encode_default
from course_utils.grading.hidden import (
    HiddenChapter,
    InstructorTree,
    Judge,
    ensure_references,
    load_chapter,
    load_instructor_tree,
    run_export_in_process,
    tree_digest,
)
from course_utils.grading.judge import judge_exercise, judge_submission
from course_utils.grading.kernel_side import export_cells_source, guard_cell_source
from course_utils.grading.plan import find_submissions, plan_submission
from course_utils.grading.reports import feedback_html, feedback_markdown, write_reports
from course_utils.grading.runner import collect_outputs, run_submission
from course_utils.grading.types import (
    DENIED_MARK,
    EXPORT_MIME,
    MAX_MESSAGE,
    CanaryFailed,
    ExerciseResult,
    GraderError,
    Limits,
    Plan,
    RunResult,
    Settings,
    Submission,
    SubmissionResult,
)

__all__ = [
    "DENIED_MARK",
    "EXPORT_MIME",
    "MAX_MESSAGE",
    "CanaryFailed",
    "CheckFailed",
    "ExerciseResult",
    "GraderError",
    "HiddenChapter",
    "InstructorTree",
    "Judge",
    "Limits",
    "Plan",
    "RunResult",
    "Settings",
    "Submission",
    "SubmissionResult",
    "Verdict",
    "collect_outputs",
    "decode",
    "encode",
    "encode_default",
    "ensure_references",
    "export_cells_source",
    "feedback_html",
    "feedback_markdown",
    "find_submissions",
    "grade",
    "guard_cell_source",
    "judge_exercise",
    "judge_submission",
    "load_chapter",
    "load_instructor_tree",
    "main",
    "parse_args",
    "plan_submission",
    "run_export_in_process",
    "run_submission",
    "tree_digest",
    "write_reports",
]


def parse_args(argv: list[str] | None) -> Settings:
    """Command-line options -> Settings."""
    p = argparse.ArgumentParser(prog="course-grade", description="Grade course notebooks with the hidden checks.")
    p.add_argument(
        "submissions", type=Path, help="a notebook, or a folder of notebooks (one per student or per folder)"
    )
    p.add_argument("--instructor", type=Path, required=True, help="the hidden tree (instructor/, with chNN/checks.py)")
    p.add_argument("--out", type=Path, default=Path("grades"), help="output folder (default: ./grades)")
    p.add_argument("--chapter", help="expected chapter, e.g. ch00 (other chapters' notebooks score 0)")
    p.add_argument("--jobs", type=int, default=2, help="submissions run in parallel (default 2)")
    p.add_argument("--cell-timeout", type=float, default=Limits.cell_timeout, help="seconds per cell")
    p.add_argument("--notebook-timeout", type=float, default=Limits.notebook_timeout, help="seconds per notebook")
    p.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="kernel memory limit in MB")
    p.add_argument(
        "--disk-mb",
        type=int,
        default=Limits.disk_mb,
        help="the sandbox's in-memory /tmp and working folder, in MB (default %(default)s)",
    )
    p.add_argument("--max-output-kb", type=int, default=Limits.max_output_kb, help="output kept per notebook")
    p.add_argument(
        "--max-export-kb",
        type=int,
        default=Limits.max_export_kb,
        help="JSON an exercise may export (default %(default)s)",
    )
    p.add_argument("--feedback", choices=["md", "html"], default="md", help="feedback format")
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="grade without OS isolation, even where bubblewrap works (only for code you trust)",
    )
    a = p.parse_args(argv)
    limits = Limits(
        cell_timeout=a.cell_timeout,
        notebook_timeout=a.notebook_timeout,
        memory_mb=a.memory_mb,
        disk_mb=a.disk_mb,
        max_output_kb=a.max_output_kb,
        max_export_kb=a.max_export_kb,
    )
    return Settings(
        submissions=a.submissions,
        instructor=a.instructor,
        out=a.out,
        chapter=a.chapter,
        jobs=a.jobs,
        limits=limits,
        feedback_format=a.feedback,
        unsafe_no_sandbox=a.unsafe_no_sandbox,
    )


EXIT_GRADED, EXIT_GRADING_ERRORS, EXIT_MISUSE, EXIT_CANARY = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    """Entry point; the exit code says whether every submission was graded.

    0: every submission was graded (failing ones included); 1: the batch ran, but some submissions
    were not graded because the grader failed on its side (listed, no grade given); 2: misuse, nothing
    graded; 3: the canary failed (the reference solutions do not score full marks in the sandbox),
    nothing graded.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # reference exports may import TensorFlow
    try:
        settings = parse_args(argv)
        results = grade(settings)
    except CanaryFailed as err:
        print(f"course-grade: canary failed: {err}", file=sys.stderr)
        return EXIT_CANARY
    except (GraderError, OSError) as err:  # OSError: a path the grader's account cannot read or write
        print(f"course-grade: error: {err}", file=sys.stderr)
        return EXIT_MISUSE
    for r in results:
        score = f"{r.score:6g} / {r.max_score:<4g} {r.percent:5.1f}%" if r.graded else "  grading error, no grade"
        print(
            f"{r.student[:24]:24s} {r.chapter or '-':6s} {score}"
            + (f"  ({len(r.notes)} note{'s' if len(r.notes) != 1 else ''})" if r.notes else "")
        )
    print(f"Wrote {settings.out / 'grades.csv'}, grades.json and feedback/ for {len(results)} submission(s).")
    errors = [r.student for r in results if not r.graded]
    if errors:
        print(
            f"course-grade: {len(errors)} submission(s) not graded because of grading errors (see grades.json): "
            + ", ".join(errors[:20]),
            file=sys.stderr,
        )
        return EXIT_GRADING_ERRORS
    return EXIT_GRADED


if __name__ == "__main__":
    sys.exit(main())
