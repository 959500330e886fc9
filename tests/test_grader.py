"""The grader on a small fake chapter (NumPy only, fast): formats, limits, cheats, reports.

One batch of hostile and broken submissions runs once (module fixture); each test reads its line
of the report. Notebooks are generated into tmp folders, never kept under tests/ (nbval).
"""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_utils import grade as g
from course_utils.grading.plan import cell_source

from conftest import sandbox_missing

CHAPTER = "ch98"

CHECKS = '''
"""Fake hidden checks for the grader's tests, written with the hidden-check kit."""
import numpy as np
from course_utils.checking import Verdict, diagnose, fail
from course_utils.grading.kit import QUIZ_EXPORT, ok, quiz_judge, snippet

PRELUDE = "import numpy as np\\n"

EXPORTS = {
    "ch98.double": snippet("""
_rng = np.random.default_rng(5)
_export = _call("double", _rng.normal(size=7))
"""),
    "ch98.quiz": QUIZ_EXPORT,
}

POINTS = {"ch98.double": 2}


def judge_double(student, reference):
    value = ok(student, "double")                          # fails on an error or a None
    hint = diagnose(value, reference["ok"], "double(x)")
    if hint is not None:
        fail(hint)                                         # hidden judges stop with fail() too
    return Verdict(True, "Correct.")


judge_quiz = quiz_judge({"q1": "EXPLANATION-OF-Q1: doubling a number adds it to itself, so D."})

JUDGES = {"ch98.double": judge_double, "ch98.quiz": judge_quiz}
'''

SOLUTIONS = '''
SOLUTIONS = {
    "ch98.double": "def double(x):\\n    return 2 * np.asarray(x)\\n",
    "ch98.quiz": "quiz_answers = {'q1': 'D'}\\n",
}
WRONG = {
    "ch98.double": [("squares", "def double(x):\\n    return np.asarray(x) ** 2\\n")],
    "ch98.quiz": [("wrong letter", "quiz_answers = {'q1': 'A'}\\n")],
}
'''

STUB = "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError"
RIGHT = "def double(x):\n    return 2 * np.asarray(x)"
QUIZ_STUB = "quiz_answers = {'q1': None}"
QUIZ_RIGHT = "quiz_answers = {'q1': 'd'}"


def make_tree(root: Path) -> Path:
    """A hidden tree with the fake chapter."""
    (root / CHAPTER).mkdir(parents=True)
    (root / CHAPTER / "checks.py").write_text(CHECKS)
    (root / CHAPTER / "solutions.py").write_text(SOLUTIONS)
    return root


def make_nb(
    double: str | None = STUB,
    quiz: str | None = QUIZ_STUB,
    extra: tuple[str, ...] = (),
    chapter: str = CHAPTER,
    marker: bool = True,
    duplicate: str | None = None,
) -> nbformat.NotebookNode:
    """A fake chapter notebook: a slow part the grader must skip, then the exercise section."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["course"] = {"chapter": chapter}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    code, md = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    nb.cells += [md("# Fake chapter"), code("raise RuntimeError('the chapter body must not run when grading')")]
    start = md("## Exercises")
    if marker:
        start.metadata["course"] = {"grading": "start"}
    nb.cells += [
        start,
        code("import numpy as np\nfrom course_utils.exercises import check"),
        *[code(textwrap.dedent(e)) for e in extra],
    ]
    for exercise_id, source in ((f"{chapter}.double", double), (f"{chapter}.quiz", quiz)):
        if source is None:
            continue
        sources = [duplicate, source] if duplicate and exercise_id.endswith("double") else [source]
        for s in sources:
            cell = code(s)
            cell.metadata["course"] = {"exercise": exercise_id}
            nb.cells.append(cell)
        check = code(f"check({exercise_id!r}, {'double' if exercise_id.endswith('double') else 'quiz_answers'})")
        check.metadata["course"] = {"check": exercise_id}
        nb.cells.append(check)
    return nb


def _with_list_ids(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Valid JSON that is not what the grader expects: exercise ids that are lists."""
    for cell in nb.cells:
        if "exercise" in cell.metadata.get("course", {}):
            cell.metadata["course"]["exercise"] = [cell.metadata["course"]["exercise"]]
    return nb


def hostile(tree: Path) -> dict[str, object]:
    """Submission name -> notebook (or raw bytes) for the robustness batch."""
    checks = str(tree / CHAPTER / "checks.py")
    pkg = str(Path(g.__file__).parent / "_pwned.py")
    empty = nbformat.v4.new_notebook()
    empty.metadata["course"] = {"chapter": CHAPTER}
    return {
        "ref": make_nb(RIGHT, QUIZ_RIGHT),
        "stub": make_nb(),
        "invalid": b"{ this is not json",
        "deepnest": b'{"cells": [' + b"[" * 50000 + b"]" * 50000 + b"]}",
        "bigint": nbformat.writes(make_nb(RIGHT, QUIZ_RIGHT))
        .replace('"chapter": "ch98"', '"chapter": 1' + "0" * 5000, 1)
        .encode(),
        "listid": _with_list_ids(make_nb(RIGHT, QUIZ_RIGHT)),
        # reads the reference solution through a directory descriptor, a route the audit hook misses
        "fdcheat": make_nb(
            f"import os\n_d = os.open({str(tree.parent)!r}, os.O_RDONLY)\n"
            "_f = os.open('instructor/ch98/solutions.py', os.O_RDONLY, dir_fd=_d)\n"
            "exec(os.read(_f, 100000).decode())\nexec(SOLUTIONS['ch98.double'])",
            QUIZ_RIGHT,
        ),
        "empty": empty,
        "otherchapter": make_nb(chapter="ch97"),
        "deleted": make_nb(None, QUIZ_RIGHT),
        "duplicated": make_nb(RIGHT, QUIZ_RIGHT, duplicate="def double(x):\n    return x"),
        "nomarker": make_nb(RIGHT, QUIZ_RIGHT, marker=False),
        "loop": make_nb("def double(x):\n    while True:\n        pass", QUIZ_RIGHT),
        "firstcell": make_nb(RIGHT, QUIZ_RIGHT, extra=("1 / 0",)),
        "missingmodule": make_nb(RIGHT, QUIZ_RIGHT, extra=("import not_a_real_module_xyz",)),
        "bigoutput": make_nb(RIGHT, QUIZ_RIGHT, extra=("while True:\n    print('x' * 10000)",)),
        "exit": make_nb(RIGHT, QUIZ_RIGHT, extra=("import os\nos._exit(3)",)),
        "memory": make_nb(RIGHT, QUIZ_RIGHT, extra=("blocks = []\nwhile True:\n    blocks.append(np.ones(10**8))",)),
        "readhidden": make_nb(RIGHT, QUIZ_RIGHT, extra=(f"print(open({checks!r}).read())",)),
        "readquietly": make_nb(
            RIGHT, QUIZ_RIGHT, extra=(f"import os\ntry:\n    os.listdir({str(tree)!r})\nexcept Exception:\n    pass",)
        ),
        "overwrite": make_nb(RIGHT, QUIZ_RIGHT, extra=(f"open({checks!r}, 'w').write('JUDGES = {{}}')",)),
        "subprocess": make_nb(
            RIGHT, QUIZ_RIGHT, extra=(f"import subprocess\nsubprocess.run(['cp', '/dev/null', {checks!r}])",)
        ),
        "patcher": make_nb(
            "def double(x):\n    return np.asarray(x) ** 2",
            "quiz_answers = {'q1': 'A'}",
            extra=(
                "import course_utils.exercises as ex\n"
                "ex.diagnose = lambda *a, **k: None\n"
                "ex.Verdict.fraction = property(lambda self: 1.0)\n"
                "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True",
                f"open({pkg!r}, 'w').write('x = 1')",
            ),
        ),
    }


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade the hostile batch once; return (results by student, output folder, tree)."""
    base = tmp_path_factory.mktemp("grader")
    tree = make_tree(base / "instructor")
    subs = base / "subs"
    subs.mkdir()
    for name, nb in hostile(tree).items():
        path = subs / f"{name}.ipynb"
        path.write_bytes(nb) if isinstance(nb, bytes) else nbformat.write(nb, path)
    (subs / "carol").mkdir()
    nbformat.write(make_nb(RIGHT, QUIZ_STUB), subs / "carol" / "ch98_whatever.ipynb")
    nbformat.write(make_nb(), subs / "carol.ipynb")
    before = {p: p.read_bytes() for p in subs.rglob("*.ipynb")}
    limits = g.Limits(cell_timeout=6, notebook_timeout=60, memory_mb=1200, max_output_kb=64)
    out = base / "out"
    settings = g.Settings(subs, tree, out, chapter=CHAPTER, jobs=2, limits=limits, unsafe_no_sandbox=sandbox_missing())
    results = {r.student: r for r in g.grade(settings)}
    assert {p: p.read_bytes() for p in subs.rglob("*.ipynb")} == before, "originals were modified"
    return results, out, tree


def score(results, student: str) -> dict[str, float]:
    """Points per exercise of one submission."""
    return {e.exercise: e.points for e in results[student].exercises}


def notes(results, student: str) -> str:
    """All notes of a submission as one string."""
    return " | ".join(results[student].notes)


def test_reference_scores_full_marks_and_skips_the_chapter_body(batch):
    results, _, _ = batch
    assert results["ref"].score == results["ref"].max_score == 3.0
    assert results["ref"].notes == []  # the RuntimeError cell above '## Exercises' was not run


def test_untouched_notebook_scores_zero_with_specific_verdicts(batch):
    results, _, _ = batch
    assert results["stub"].score == 0 and results["stub"].notes == []
    messages = {e.exercise: e.message for e in results["stub"].exercises}
    assert "NotImplementedError" in messages["ch98.double"]


@pytest.mark.parametrize(
    "student, expected",
    [
        ("invalid", "invalid JSON"),
        ("deepnest", "nested too deeply"),
        ("bigint", "invalid JSON"),
        ("empty", "empty"),
        ("otherchapter", "ch97 notebook, but ch98 was expected"),
    ],
)
def test_unreadable_or_wrong_notebooks_are_reported(batch, student, expected):
    results, _, _ = batch
    assert results[student].score == 0 and expected in notes(results, student)


def test_malformed_metadata_is_reported_and_the_batch_goes_on(batch):
    results, out, _ = batch
    assert results["listid"].score == 0 and "its exercise cell is missing" in notes(results, "listid")
    with open(out / "grades.csv", encoding="utf-8") as f:
        assert {"deepnest", "bigint", "listid", "ref"} <= {row["student"] for row in csv.DictReader(f)}


@pytest.mark.skipif(sandbox_missing(), reason="without bubblewrap only the audit hook stands in the way")
def test_the_sandbox_hides_the_hidden_tree_from_every_route(batch):
    results, _, _ = batch
    assert score(results, "fdcheat") == {"ch98.double": 0, "ch98.quiz": 1}
    assert "FileNotFoundError" in notes(results, "fdcheat")


def test_deleted_and_duplicated_cells(batch):
    results, _, _ = batch
    assert score(results, "deleted") == {"ch98.double": 0, "ch98.quiz": 1}
    assert "ch98.double: its exercise cell is missing" in notes(results, "deleted")
    assert results["duplicated"].score == 3 and "appears 2 times" in notes(results, "duplicated")


def test_missing_marker_runs_everything(batch):
    results, _, _ = batch
    assert "marker cell is missing" in notes(results, "nomarker")
    assert "RuntimeError" in notes(results, "nomarker") and results["nomarker"].score == 3


def test_infinite_loop_in_a_function_costs_only_that_exercise(batch):
    results, _, _ = batch
    assert score(results, "loop") == {"ch98.double": 0, "ch98.quiz": 1}
    assert "did not finish" in {e.exercise: e.message for e in results["loop"].exercises}["ch98.double"]


@pytest.mark.parametrize(
    "student, expected",
    [
        ("firstcell", "raised ZeroDivisionError"),
        ("missingmodule", "ModuleNotFoundError"),
    ],
)
def test_errors_in_cells_are_reported_and_the_rest_is_graded(batch, student, expected):
    results, _, _ = batch
    assert expected in notes(results, student) and results[student].score == 3


def test_enormous_output_is_capped_and_interrupted(batch):
    results, _, _ = batch
    text = notes(results, "bigoutput")
    assert "printed more than 64 KiB" in text and "interrupted" in text
    assert results["bigoutput"].score == 3


@pytest.mark.parametrize(
    "student, expected", [("exit", "kernel stopped unexpectedly"), ("memory", "more than 1200 MB")]
)
def test_dead_kernels_are_reported(batch, student, expected):
    results, _, _ = batch
    assert expected in notes(results, student) and results[student].score == 0
    assert all("Not graded" in e.message for e in results[student].exercises)


@pytest.mark.parametrize("student", ["readhidden", "readquietly", "overwrite", "subprocess"])
def test_access_to_the_hidden_tree_is_blocked_and_reported(batch, student):
    results, _, tree = batch
    text = notes(results, student)
    if sandbox_missing() or student == "subprocess":  # the audit hook refuses, and says so
        assert "tried to access the grader's files" in text
        assert results[student].internal, "the instructor sees what was blocked"
    elif student != "readquietly":  # in the sandbox the grader's files do not exist for the kernel
        assert "FileNotFoundError" in text, text
    assert results[student].score == 3  # the rest of the notebook is still graded
    assert "JUDGES = {}" not in (tree / CHAPTER / "checks.py").read_text()


def test_patching_the_checker_changes_nothing(batch):
    results, _, _ = batch
    pwned = Path(g.__file__).parent / "_pwned.py"
    created = pwned.exists()
    pwned.unlink(missing_ok=True)
    assert not created, "a notebook wrote into the installed package"
    assert results["patcher"].score == 0
    assert "tried to access" in notes(results, "patcher")


def test_students_in_folders_and_duplicate_names(batch):
    results, _, _ = batch
    assert {"carol", "carol-2"} <= set(results)
    assert sorted(r.score for k, r in results.items() if k.startswith("carol")) == [0, 2]


def test_reports_are_written_and_never_contain_hidden_material(batch):
    results, out, tree = batch
    with open(out / "grades.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["student"] for r in rows} == set(results)
    assert {r["ch98.double"] for r in rows if r["student"] == "ref"} == {"2"}
    data = json.loads((out / "grades.json").read_text())
    assert data["tree_changed_during_grading"] is False and len(data["submissions"]) == len(results)
    assert data["isolation"] == ("none" if sandbox_missing() else "bwrap") and data["wall_seconds"] > 0
    assert data["processes_left_after_submissions"] == 0 or sandbox_missing()
    assert data["processes_alive_after_batch"] == 0
    feedback = {p.stem: p.read_text() for p in (out / "feedback").glob("*.md")}
    assert set(feedback) == set(results)
    assert "Score: 3 / 3 (100%)" in feedback["ref"]
    # the explanation of a wrong quiz answer reaches that student's feedback, and no one else's
    assert "EXPLANATION-OF-Q1" in feedback["patcher"] and "## What to review" in feedback["patcher"]
    assert all(
        "EXPLANATION-OF-Q1" not in text
        for student, text in feedback.items()
        if score(results, student).get("ch98.quiz") == 1
    )
    hidden_x = np.random.default_rng(5).normal(size=7)
    forbidden = ["default_rng", "_export", "'q1': 'D'", "return 2 * np.asarray", str(tree)]
    forbidden += [f"{v:.3f}" for v in np.concatenate([hidden_x, 2 * hidden_x])]
    quoting_their_own_code = {"readhidden", "readquietly", "overwrite", "subprocess", "fdcheat"}
    for student, text in feedback.items():
        for marker in forbidden:
            if marker == str(tree) and student in quoting_their_own_code:
                continue  # their error messages quote the path their own code used; the grader added nothing
            assert marker not in text, (student, marker)


@pytest.mark.kernel
def test_notebook_time_limit(tmp_path):
    tree = make_tree(tmp_path / "instructor")
    nbformat.write(make_nb(RIGHT, QUIZ_RIGHT, extra=("import time\ntime.sleep(60)",)), tmp_path / "slow.ipynb")
    limits = g.Limits(cell_timeout=100, notebook_timeout=6)
    [res] = g.grade(
        g.Settings(tmp_path / "slow.ipynb", tree, tmp_path / "out", limits=limits, unsafe_no_sandbox=sandbox_missing())
    )
    assert "did not finish within 6 s" in " ".join(res.notes) and res.score == 0


# --- pure functions (no kernel) ---------------------------------------------------------------


def test_codec_round_trip_and_refusals():
    value = {"a": np.arange(6, dtype="int32").reshape(2, 3), "b": np.float32(1.5), "c": [True, None, "s"]}
    back = g.decode(g.encode(value))
    assert back["a"].dtype == np.int32 and back["a"].shape == (2, 3) and back["b"] == 1.5
    with pytest.raises(ValueError, match="malformed array"):
        g.decode('{"__ndarray__": [1], "dtype": "object", "shape": [1]}')
    with pytest.raises(ValueError, match="too large"):
        g.decode(json.dumps({"x": "y" * 100}), max_chars=50)
    with pytest.raises(ValueError, match="malformed export"):
        g.decode("[" * 100000 + "]" * 100000, max_chars=10**6)
    with pytest.raises(TypeError, match="cannot export a value of type object"):
        g.encode(object())


def test_plan_picks_the_exercise_section_and_reports_problems(tmp_path):
    tree = g.load_instructor_tree(make_tree(tmp_path / "instructor"))
    plan = g.plan_submission(nbformat.writes(make_nb()).encode(), tree, None)
    assert plan.chapter == CHAPTER and plan.fatal is None and plan.present == {"ch98.double", "ch98.quiz"}
    assert all("the chapter body" not in cell_source(c) for c in plan.cells)
    assert "ch00 notebook" in g.plan_submission(nbformat.writes(make_nb(chapter="ch00")).encode(), tree, CHAPTER).fatal
    assert "No hidden checks" in g.plan_submission(nbformat.writes(make_nb(chapter="ch97")).encode(), tree, None).fatal
    assert "not a notebook" in g.plan_submission(b"[1, 2]", tree, None).fatal


def test_bad_instructor_trees_are_grader_errors(tmp_path):
    with pytest.raises(g.GraderError, match="not found"):
        g.load_instructor_tree(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(g.GraderError, match="no chapter folder"):
        g.load_instructor_tree(tmp_path / "empty")
    bad = make_tree(tmp_path / "bad")
    (bad / CHAPTER / "solutions.py").write_text("SOLUTIONS = {}\n")
    with pytest.raises(g.GraderError, match="no reference solution"):
        g.load_instructor_tree(bad)


def test_cli_exit_codes(tmp_path, capsys):
    assert g.main([str(tmp_path / "missing"), "--instructor", str(tmp_path / "none")]) == 2
    assert "instructor tree not found" in capsys.readouterr().err
    tree = make_tree(tmp_path / "instructor")
    assert g.main([str(tmp_path / "missing.ipynb"), "--instructor", str(tree), "--out", str(tmp_path / "o")]) == 2
    assert "submissions not found" in capsys.readouterr().err


def test_find_submissions_names_students(tmp_path):
    (tmp_path / "dave").mkdir()
    (tmp_path / "dave" / "a.ipynb").write_text("{}")
    (tmp_path / "dave.ipynb").write_text("{}")
    (tmp_path / "e v@l.ipynb").write_text("{}")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    assert sorted(s.student for s in g.find_submissions(tmp_path)) == ["dave", "dave-2", "e_v@l"]
