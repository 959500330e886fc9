"""The canary: before a batch, the chapter's reference solutions are graded in the same sandbox.

If the references do not score full marks there, something on the grader's side is broken (the
sandbox hides the environment or the data, a library fails to load, a limit is too tight), and every
student would be blamed for it. The batch then stops before grading anyone, with the cause.
"""

from __future__ import annotations

from typing import Any

from course_utils.grading.hidden import HiddenChapter
from course_utils.grading.types import CanaryFailed, SubmissionResult

CANARY = "reference-solutions"  # the canary's name in messages (never a student's)


def reference_notebook(chapter: HiddenChapter) -> Any:
    """A notebook of the chapter whose exercise section holds the prelude and every reference solution.

    Built from the hidden tree alone (the book's notebook need not be on the grading machine): the
    references are computed from the prelude and the solutions in the grader's process, so the same
    cells must score full marks in a kernel.
    """
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["course"] = {"chapter": chapter.chapter}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    marker = nbformat.v4.new_markdown_cell("## Exercises")
    marker.metadata["course"] = {"grading": "start"}
    nb.cells += [marker, nbformat.v4.new_code_cell(chapter.prelude)]
    for exercise_id in chapter.ids:
        cell = nbformat.v4.new_code_cell(chapter.solutions[exercise_id])
        cell.metadata["course"] = {"exercise": exercise_id}
        nb.cells.append(cell)
    return nb


def canary_failure(result: SubmissionResult, isolation: str) -> str | None:
    """Why the canary's result is not a clean full score, or None when it is."""
    if result.graded and result.max_score > 0 and result.score == result.max_score and not result.notes:
        return None
    causes = []
    if result.grading_error:
        causes.append(result.grading_error)
    causes += [n for n in result.notes if n not in causes]
    causes += [f"{e.exercise}: {e.message}" for e in result.exercises if e.points < e.max_points]
    causes += [i for i in result.internal if i not in causes]
    cause = "; ".join(c.strip() for c in causes if c.strip())[:2000] or "no cause reported"
    return (
        f"the reference solutions of {result.chapter} score {result.score:g} / {result.max_score:g} "
        f"when graded like a submission (isolation: {isolation}), so nobody was graded. Cause: {cause}"
    )


def check_canary(result: SubmissionResult, isolation: str) -> None:
    """Stop the batch (CanaryFailed) unless the references scored full marks without a note."""
    failure = canary_failure(result, isolation)
    if failure is not None:
        raise CanaryFailed(failure)
