"""Judging, in the grader's process only: exported values against the reference exports."""

from __future__ import annotations

import copy
import traceback

from course_utils.checking import CheckFailed, Verdict
from course_utils.grading.codec import decode
from course_utils.grading.hidden import HiddenChapter
from course_utils.grading.types import (
    GRADING_ERROR_NOTE,
    MAX_MESSAGE,
    ExerciseResult,
    Limits,
    Plan,
    RunResult,
    Submission,
    SubmissionResult,
)
from course_utils.grading.wording import (
    WITHHELD,
    code_fragments,
    quote_safely,
    safe_error,
    scrub,
    strings_of,
    withhold_quotes,
)

RUN_ITS_CELL = "run its exercise cell"  # the kit's advice when a function is missing from the namespace


def _quotes_hidden_code(chapter: HiddenChapter, exercise_id: str, value: object) -> bool:
    """Whether a string of the student's export holds a fragment of the exercise's hidden code."""
    fragments = hidden_fragments(chapter, exercise_id)
    return any(withhold_quotes(s, fragments) == WITHHELD for s in strings_of(value))


def _lower_first(text: str) -> str:
    """A sentence continued after a colon: its first letter in lower case (unless a name follows)."""
    return text[:1].lower() + text[1:] if text[:2].istitle() else text


def judge_exercise(
    chapter: HiddenChapter, exercise_id: str, raw: str | None, run: RunResult, present: bool, max_chars: int
) -> tuple[Verdict, str | None]:
    """The verdict of one exercise, and an instructor-only note; never raises."""
    if not present:
        return Verdict(False, "Not graded: the exercise cell is missing or was not run (see the notes)."), None
    if exercise_id in run.forged:
        return Verdict(
            False,
            "Not graded: more than one answer came back from this exercise's hidden check, so the "
            "answer was forged; forged answers earn nothing.",
        ), f"{exercise_id}: forged export (several payloads in its export cell)"
    if exercise_id in run.timed_out:
        return Verdict(
            False,
            "Your code did not finish on the hidden inputs within the time limit (an infinite loop, or far too slow).",
        ), None
    if raw is None:
        why = _lower_first(run.stopped or "the notebook stopped before this exercise was checked")
        return Verdict(False, f"Not graded: {why}"[:MAX_MESSAGE]), None
    try:
        exported = decode(raw, max_chars)
    except ValueError as err:
        return Verdict(False, f"Your answer could not be read back: {err}."), None
    if not isinstance(exported, dict) or ("value" in exported) == ("error" in exported):
        return Verdict(False, "Your answer could not be read back: malformed export."), None
    if "error" in exported:
        if _quotes_hidden_code(chapter, exercise_id, exported["error"]):
            return Verdict(False, WITHHELD), None
        msg = safe_error(scrub(str(exported["error"])))
        return Verdict(False, f"The hidden check could not run your code: {msg}"), None
    value = exported["value"]
    if isinstance(value, dict) and exercise_id in run.export_seconds:
        # measured by the grader around the export cell: a clock the student's code cannot patch
        value["grader_seconds"] = round(run.export_seconds[exercise_id], 1)
    try:
        try:
            verdict = chapter.judges[exercise_id](value, copy.deepcopy(chapter.references[exercise_id]))
        except CheckFailed as stop:  # a judge may stop at the first problem with fail(...)
            verdict = stop.verdict
        if not isinstance(verdict, Verdict):
            raise TypeError(f"judge returned {type(verdict).__name__}, not a Verdict")
    except Exception as err:
        internal = f"{exercise_id}: judge raised {type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
        return Verdict(
            False,
            "Your answer has an unexpected form (type or structure) that the hidden "
            "check could not read; compare it with the exercise's instructions.",
        ), internal
    # written by the instructor's judge, with the student's own answers quoted (cleaned like errors)
    details = tuple(quote_safely(str(d), value) for d in verdict.details)
    message = quote_safely(scrub(str(verdict.message)), value)  # a quoted error could carry the hidden inputs
    if not verdict.passed and _quotes_hidden_code(chapter, exercise_id, value):
        message = WITHHELD  # the student's strings quote the hidden snippet: nothing of them is shown
    return Verdict(verdict.passed, message[: 2 * MAX_MESSAGE], verdict.score, details), None


def _failed_cells(plan: Plan, run: RunResult) -> dict[str, tuple[int, str]]:
    """Exercise id -> (the cell's number in the notebook, the exception) for exercise cells that raised."""
    failed: dict[str, tuple[int, str]] = {}
    for k, cell in enumerate(plan.cells):
        course = cell.get("metadata", {}).get("course", {}) if isinstance(cell, dict) else {}
        exercise_id = course.get("exercise") if isinstance(course, dict) else None
        if isinstance(exercise_id, str):
            failed.pop(exercise_id, None)  # the last copy of a duplicated cell counts
            if k in run.cell_errors:
                position = plan.positions[k] if k < len(plan.positions) else k + 1
                failed[exercise_id] = (position, run.cell_errors[k])
    return failed


def _explain_failed_cell(verdict: Verdict, exercise_id: str, failed: dict[str, tuple[int, str]]) -> Verdict:
    """A verdict that says the exercise cell raised, rather than telling the student to run it."""
    if verdict.passed or exercise_id not in failed:
        return verdict
    position, ename = failed[exercise_id]
    where = f"its exercise cell (cell {position} of the notebook) raised {ename}"
    if RUN_ITS_CELL in verdict.message:
        message = f"Not graded: {where}, so nothing was defined; fix the error and run the cell again."
    else:
        message = f"{verdict.message} Note that {where}."
    return Verdict(False, message, verdict.score, verdict.details)


AGAIN = (
    "Graded again in a kernel where Keras, TensorFlow and the other frameworks cannot be imported "
    "(the exercise asks for NumPy only): "
)


def _judged_again(
    chapter: HiddenChapter, exercise_id: str, first: Verdict, fresh: RunResult, limits: Limits
) -> tuple[Verdict, str | None]:
    """The lower of the first verdict and the verdict of the kernel without frameworks.

    The first kernel's watcher says clearly that an answer used Keras; this second verdict rests
    on values computed where no framework could run, whatever the notebook forged in either kernel.
    """
    again, internal = judge_exercise(
        chapter, exercise_id, fresh.exports.get(exercise_id), fresh, True, limits.max_export_kb * 1024
    )
    if again.fraction >= first.fraction:
        return first, internal
    message = AGAIN + _lower_first(again.message)
    return Verdict(False, message[: 3 * MAX_MESSAGE], again.score, again.details), (
        f"{exercise_id}: {first.fraction:g} in the first kernel, {again.fraction:g} without frameworks"
        + (f"; {internal}" if internal else "")
    )


def judge_submission(
    sub: Submission, chapter: HiddenChapter, plan: Plan, run: RunResult, limits: Limits
) -> SubmissionResult:
    """Judge every exercise of a submission that ran; a run that failed on the grader's side gets no grade."""
    res = SubmissionResult(
        sub.student, str(sub.path), chapter.chapter, max_score=chapter.max_points, seconds=run.seconds
    )
    res.survivors, res.mark = run.survivors, run.mark
    if run.fresh is not None:
        res.seconds += run.fresh.seconds
        res.internal.append(
            f"NumPy-only exercises graded again without frameworks in {run.fresh.seconds:.1f} s "
            f"(the first kernel: {run.seconds:.1f} s)."
        )
    if run.grader_error is not None:
        res.grading_error = run.grader_error[:2000]
        res.notes = [GRADING_ERROR_NOTE]
        res.internal.append(f"grading error: {res.grading_error}")
        return res
    res.notes = plan.notes + run.notes + ([run.stopped] if run.stopped else [])
    if run.survivors:
        res.internal.append(f"{run.survivors} process(es) of this notebook outlived its kernel and were killed.")
    if run.denied:
        res.notes.append(
            "The notebook tried to access the grader's files or run forbidden operations; "
            "this was blocked and reported to the instructor."
        )
        res.internal += [f"blocked: {d}" for d in run.denied]
    failed = _failed_cells(plan, run)
    for exercise_id in chapter.ids:
        verdict, internal = judge_exercise(
            chapter,
            exercise_id,
            run.exports.get(exercise_id),
            run,
            exercise_id in plan.present,
            limits.max_export_kb * 1024,
        )
        verdict = _explain_failed_cell(verdict, exercise_id, failed)
        if run.fresh is not None and exercise_id in chapter.numpy_only and verdict.fraction > 0:
            verdict, again_internal = _judged_again(chapter, exercise_id, verdict, run.fresh, limits)
            internal = internal or again_internal
        if internal:
            res.internal.append(internal)
        fragments = hidden_fragments(chapter, exercise_id)
        message = withhold_quotes(verdict.message, fragments)
        details = [withhold_quotes(d, fragments) for d in verdict.details]
        pts = chapter.points[exercise_id]
        res.exercises.append(
            ExerciseResult(exercise_id, round(pts * verdict.fraction, 4), pts, verdict.passed, message, details)
        )
    res.notes = [withhold_quotes(n, hidden_fragments(chapter)) for n in res.notes]
    res.score = round(sum(e.points for e in res.exercises), 4)
    return res


def hidden_fragments(chapter: HiddenChapter, exercise_id: str | None = None) -> list[str]:
    """The fragments of hidden code that feedback must not quote: one exercise's snippet, or all."""
    ids = [exercise_id] if exercise_id else chapter.ids
    return code_fragments([chapter.prelude, *(chapter.exports[i] for i in ids)])
