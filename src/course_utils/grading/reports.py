"""Reports: grades.csv and grades.json for the instructor, one feedback file per student."""

from __future__ import annotations

import csv
import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from course_utils.grading.types import SubmissionResult


def feedback_markdown(res: SubmissionResult) -> str:
    """The student's feedback: total, one line per exercise, notes; no hidden code or values."""
    lines = [
        f"# Feedback for {res.student}",
        "",
        f"Notebook: `{Path(res.path).name}`" + (f" (chapter {res.chapter})" if res.chapter else ""),
        "",
        (
            f"**Score: {res.score:g} / {res.max_score:g} ({res.percent:.0f}%)**"
            if res.graded
            else "**Grade not given: grading error** (a failure on the grader's side, not in your notebook)"
        ),
        "",
    ]
    if res.exercises:
        lines += ["| Exercise | Points | Verdict |", "|---|---|---|"]
        for e in res.exercises:
            mark = "\u2705" if e.passed else "\u274c"
            msg = e.message.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {e.exercise} | {e.points:g} / {e.max_points:g} | {mark} {msg} |")
        lines.append("")
    reviewed = [e for e in res.exercises if e.details]
    if reviewed:
        lines += ["## What to review", ""]
        for e in reviewed:
            lines += [f"### {e.exercise}", ""] + [f"- {d}" for d in e.details] + [""]
    if res.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in res.notes] + [""]
    return "\n".join(lines)


def feedback_html(res: SubmissionResult) -> str:
    """The same feedback as a standalone HTML page."""
    rows = "".join(
        f"<tr><td>{html.escape(e.exercise)}</td><td>{e.points:g} / {e.max_points:g}</td>"
        f"<td>{'&#x2705;' if e.passed else '&#x274c;'} {html.escape(e.message)}</td></tr>"
        for e in res.exercises
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in res.notes)
    review = "".join(
        f"<h3>{html.escape(e.exercise)}</h3><ul>"
        + "".join(f"<li>{html.escape(d.replace('**', ''))}</li>" for d in e.details)
        + "</ul>"
        for e in res.exercises
        if e.details
    )
    return (
        f"<!doctype html><meta charset='utf-8'><title>Feedback for {html.escape(res.student)}</title>"
        f"<h1>Feedback for {html.escape(res.student)}</h1><p>Notebook: <code>{html.escape(Path(res.path).name)}"
        f"</code></p><p><b>"
        + (
            f"Score: {res.score:g} / {res.max_score:g} ({res.percent:.0f}%)"
            if res.graded
            else "Grade not given: grading error (a failure on the grader's side, not in your notebook)"
        )
        + "</b></p>"
        f"<table border='1'><tr><th>Exercise</th><th>Points</th><th>Verdict</th></tr>{rows}</table>"
        + (f"<h2>What to review</h2>{review}" if review else "")
        + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else "")
    )


def write_reports(
    results: list[SubmissionResult], out: Path, fmt: str, tree_changed: bool, batch: dict[str, Any] | None = None
) -> None:
    """grades.csv, grades.json and one feedback file per submission.

    ``batch`` adds facts about the whole run to grades.json (isolation mode, wall time, processes
    left behind).
    """
    out.mkdir(parents=True, exist_ok=True)
    fb = out / "feedback"
    fb.mkdir(exist_ok=True)
    ids: list[str] = []
    for r in results:
        ids += [e.exercise for e in r.exercises if e.exercise not in ids]
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "chapter", "status", "score", "max_score", "percent", *ids, "notes"])
        for r in results:
            pts = {e.exercise: e.points for e in r.exercises}
            w.writerow(
                [
                    r.student,
                    r.path,
                    r.chapter or "",
                    "graded" if r.graded else "grading error",
                    f"{r.score:g}" if r.graded else "",
                    f"{r.max_score:g}",
                    f"{r.percent:.1f}" if r.graded else "",
                    *[f"{pts[i]:g}" if i in pts else "" for i in ids],
                    " | ".join(r.notes),
                ]
            )
    payload = {
        **(batch or {}),
        "tree_changed_during_grading": tree_changed,
        "submissions": [{**asdict(r), "percent": r.percent, "graded": r.graded} for r in results],
    }
    (out / "grades.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    for r in results:
        if fmt == "html":
            (fb / f"{r.student}.html").write_text(feedback_html(r), encoding="utf-8")
        else:
            (fb / f"{r.student}.md").write_text(feedback_markdown(r), encoding="utf-8")
