"""Judging, in the grader's process only: exported values against the reference exports."""

from __future__ import annotations

import copy
import traceback

from course_utils.checking import CheckFailed, Verdict
from course_utils.grading.codec import decode
from course_utils.grading.hidden import HiddenChapter
from course_utils.grading.types import (
    MAX_MESSAGE,
    ExerciseResult,
    Limits,
    Plan,
    RunResult,
    Submission,
    SubmissionResult,
)


def judge_exercise(
    chapter: HiddenChapter, exercise_id: str, raw: str | None, run: RunResult, present: bool, max_chars: int
) -> tuple[Verdict, str | None]:
    """The verdict of one exercise, and an instructor-only note; never raises."""
    if not present:
        return Verdict(False, "Not graded: the exercise cell is missing or was not run (see the notes)."), None
    if exercise_id in run.timed_out:
        return Verdict(
            False,
            "Your code did not finish on the hidden inputs within the time limit (an infinite loop, or far too slow).",
        ), None
    if raw is None:
        why = run.stopped or "the notebook stopped before this exercise was checked"
        return Verdict(False, f"Not graded: {why}"[:MAX_MESSAGE]), None
    try:
        exported = decode(raw, max_chars)
    except ValueError as err:
        return Verdict(False, f"Your answer could not be read back: {err}."), None
    if not isinstance(exported, dict) or ("value" in exported) == ("error" in exported):
        return Verdict(False, "Your answer could not be read back: malformed export."), None
    if "error" in exported:
        msg = str(exported["error"])[:MAX_MESSAGE]
        return Verdict(False, f"The hidden check could not run your code: {msg}"), None
    try:
        try:
            verdict = chapter.judges[exercise_id](exported["value"], copy.deepcopy(chapter.references[exercise_id]))
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
    details = tuple(str(d) for d in verdict.details)  # written by the instructor's judge, not by the student
    return Verdict(verdict.passed, str(verdict.message)[: 2 * MAX_MESSAGE], verdict.score, details), None


def judge_submission(
    sub: Submission, chapter: HiddenChapter, plan: Plan, run: RunResult, limits: Limits
) -> SubmissionResult:
    """Judge every exercise of a submission that ran."""
    res = SubmissionResult(
        sub.student, str(sub.path), chapter.chapter, max_score=chapter.max_points, seconds=run.seconds
    )
    res.notes = plan.notes + run.notes + ([run.stopped] if run.stopped else [])
    res.survivors, res.mark = run.survivors, run.mark
    if run.survivors:
        res.internal.append(f"{run.survivors} process(es) of this notebook outlived its kernel and were killed.")
    if run.denied:
        res.notes.append(
            "The notebook tried to access the grader's files or run forbidden operations; "
            "this was blocked and reported to the instructor."
        )
        res.internal += [f"blocked: {d}" for d in run.denied]
    for exercise_id in chapter.ids:
        verdict, internal = judge_exercise(
            chapter,
            exercise_id,
            run.exports.get(exercise_id),
            run,
            exercise_id in plan.present,
            limits.max_export_kb * 1024,
        )
        if internal:
            res.internal.append(internal)
        pts = chapter.points[exercise_id]
        res.exercises.append(
            ExerciseResult(
                exercise_id,
                round(pts * verdict.fraction, 4),
                pts,
                verdict.passed,
                verdict.message,
                list(verdict.details),
            )
        )
    res.score = round(sum(e.points for e in res.exercises), 4)
    return res
