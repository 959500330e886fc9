"""Proof that each chapter's hidden checks are right, for every instructor/chNN folder.

In-process (fast): every reference solution passes, every stub scores 0, every plausible wrong
answer is rejected. End to end (one grader batch per chapter, real notebook, real kernels): the
notebook completed with the references scores 100%, the untouched notebook scores 0% and runs
without an error, and a notebook filled with wrong answers scores 0 on every exercise.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nbformat
import pytest

from course_utils import grade as g

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR = ROOT / "instructor"
CHAPTERS = sorted(p.name for p in INSTRUCTOR.glob("ch*") if (p / "checks.py").is_file()) if INSTRUCTOR.is_dir() else []

pytest.importorskip("keras")


def notebook_of(chapter: str) -> Path:
    """The book's notebook of a chapter."""
    found = sorted((ROOT / "book").glob(f"{chapter}_*.ipynb"))
    if not found:
        pytest.skip(f"no book/{chapter}_*.ipynb yet")
    return found[0]


@pytest.fixture(scope="module")
def tree() -> g.InstructorTree:
    if not CHAPTERS:
        pytest.skip("no instructor tree in this checkout")
    return g.load_instructor_tree(INSTRUCTOR)


def stubs(chapter: str) -> dict[str, str]:
    """Exercise id -> the stub in the book's notebook."""
    nb = nbformat.read(notebook_of(chapter), as_version=4)
    return {c.metadata["course"]["exercise"]: c.source for c in nb.cells
            if "exercise" in c.metadata.get("course", {})}


def filled(chapter: str, sources: dict[str, str]) -> nbformat.NotebookNode:
    """The chapter's notebook with some exercise cells replaced."""
    nb = nbformat.read(notebook_of(chapter), as_version=4)
    for cell in nb.cells:
        exercise_id = cell.metadata.get("course", {}).get("exercise")
        if exercise_id in sources:
            cell.source = sources[exercise_id].strip()
    return nb


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_hidden_checks_cover_exactly_the_notebook_exercises(tree, chapter):
    hidden = tree.chapters[chapter]
    assert set(hidden.ids) == set(stubs(chapter)) == set(hidden.solutions) == set(hidden.wrong)
    assert all(hidden.wrong[i] for i in hidden.ids), "every exercise needs at least one wrong answer"


@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # diverging wrong answers
def test_in_process_references_pass_stubs_and_wrong_answers_fail(tree, chapter):
    hidden = tree.chapters[chapter]
    refs = g.ensure_references(hidden)
    for exercise_id in hidden.ids:
        def verdict(source: str):
            return hidden.judges[exercise_id](g.run_export_in_process(hidden, exercise_id, source), refs[exercise_id])
        ok = verdict(hidden.solutions[exercise_id])
        assert ok.passed and ok.fraction == 1.0, (exercise_id, ok.message)
        stub = verdict(stubs(chapter)[exercise_id])
        assert not stub.passed and stub.fraction == 0.0, (exercise_id, stub.message)
        for name, source in hidden.wrong[exercise_id]:
            wrong = verdict(source)
            assert not wrong.passed and wrong.fraction < 1.0, (exercise_id, name, wrong.message)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_reference_solutions_pass_the_visible_checks(tree, chapter):
    """What the check cell passes to check(), taken from the reference solution, passes the visible check."""
    from course_utils.exercises import run_check
    hidden = tree.chapters[chapter]
    nb = nbformat.read(notebook_of(chapter), as_version=4)
    calls = {c.metadata["course"]["check"]: ast.parse(c.source).body[0].value for c in nb.cells
             if "check" in c.metadata.get("course", {})}
    for exercise_id, source in hidden.solutions.items():
        namespace: dict = {}
        exec(hidden.prelude + "\n" + source, namespace)
        args = [eval(compile(ast.Expression(arg), "<check>", "eval"), namespace) for arg in calls[exercise_id].args[1:]]
        verdict = run_check(exercise_id, *args)
        assert verdict.passed, (exercise_id, verdict.message)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_end_to_end_reference_untouched_and_wrong_notebooks(tree, chapter, tmp_path, monkeypatch):
    shared = ROOT.parent / "shared" / "data"
    if not os.environ.get("COURSE_DATA_DIR") and (shared / "mnist.npz").is_file():
        monkeypatch.setenv("COURSE_DATA_DIR", str(shared))
    hidden = tree.chapters[chapter]
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(filled(chapter, hidden.solutions), subs / "reference.ipynb")
    nbformat.write(filled(chapter, {}), subs / "untouched.ipynb")
    nbformat.write(filled(chapter, {i: hidden.wrong[i][0][1] for i in hidden.ids}), subs / "wrong.ipynb")
    out = tmp_path / "out"
    results = {r.student: r for r in g.grade(g.Settings(subs, INSTRUCTOR, out, chapter=chapter, jobs=2))}

    ref = results["reference"]
    assert ref.score == ref.max_score > 0, [(e.exercise, e.message) for e in ref.exercises] + ref.notes
    assert ref.notes == [], ref.notes

    untouched = results["untouched"]
    assert untouched.score == 0 and untouched.notes == [], untouched.notes  # it runs without an error
    assert all("NotImplementedError" in e.message or "quiz" in e.exercise for e in untouched.exercises)

    wrong = results["wrong"]
    assert all(not e.passed and e.points < e.max_points for e in wrong.exercises), \
        [(e.exercise, e.points, e.message) for e in wrong.exercises]

    feedback = "\n".join(p.read_text() for p in (out / "feedback").glob("*.md"))
    for exercise_id in hidden.ids:
        for line in hidden.exports[exercise_id].splitlines() + hidden.solutions[exercise_id].splitlines():
            if len(line.strip()) >= 25:
                assert line.strip() not in feedback, (exercise_id, line)
