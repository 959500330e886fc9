"""Limits on everything a student controls, the canary, grading errors and honest feedback.

One batch of hostile submissions on the fake chapter of ``test_grader`` runs once (module fixture);
each test reads its line of the report. Every hostile submission here earned points, or harmed the
grader, before the fixes it proves.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from test_grader import CHAPTER, QUIZ_RIGHT, RIGHT, SOLUTIONS, make_nb, make_tree

from course_utils import grade as g
from course_utils.grading import batch as batch_module
from course_utils.grading import wording

from conftest import sandbox_missing

SECRET = "COURSE_TEST_CREDENTIAL"
SQUARES = "def double(x):\n    return np.asarray(x) ** 2"
# A wrong answer that forges the right export: a hook shows a second payload after the real one.
FORGER = (
    "import json\nfrom IPython import get_ipython\nfrom IPython.display import display\n_seen = []\n"
    "def double(x):\n    _seen.append(np.asarray(x))\n    return np.asarray(x) ** 2\n"
    "def _forge(*args):\n    if _seen:\n"
    "        value = json.dumps({'value': {'ok': {'__ndarray__': (2 * _seen[-1]).tolist(), "
    "'dtype': 'float64', 'shape': [len(_seen[-1])]}}})\n"
    "        display({'application/x-course-export+json': {'id': 'ch98.double', 'json': value}}, raw=True)\n"
    "get_ipython().events.register('post_execute', _forge)"
)


def flooder(megabytes: int) -> nbformat.NotebookNode:
    """A right notebook that floods the guard's log with refused operations and sends one enormous message."""
    return make_nb(
        RIGHT,
        QUIZ_RIGHT,
        extra=(
            "import subprocess\nfor _ in range(200000):\n    try:\n        subprocess.Popen(['true'])\n"
            "    except PermissionError:\n        pass",
            f"from IPython.display import display\ndisplay({{'text/plain': 'x' * {megabytes} * 2**20}}, raw=True)",
        ),
    )


def hostile_limits() -> dict[str, object]:
    """Submission name -> notebook for the limits batch (names are file names)."""
    long_name = "L" * 249  # 249 + ".ipynb" = 255 characters, the longest file name Linux allows
    return {
        "ref": make_nb(RIGHT, QUIZ_RIGHT),
        # reads a credential from the grader's environment: right only when it can see it
        "credential": make_nb(
            f"import os\ndef double(x):\n    return 2 * np.asarray(x) if os.environ.get({SECRET!r}) else None",
            QUIZ_RIGHT,
        ),
        # fills /tmp, then the working folder: both are capped (the test sets disk_mb=64)
        "filltmp": make_nb(
            RIGHT,
            QUIZ_RIGHT,
            extra=(
                "with open('/tmp/fill', 'wb') as f:\n    for _ in range(200):\n        f.write(b'0' * 2**20)",
                "with open('fill', 'wb') as f:\n    for _ in range(200):\n        f.write(b'0' * 2**20)",
            ),
        ),
        "floodlog": flooder(40),
        long_name: make_nb(RIGHT, QUIZ_RIGHT),
        "forger": make_nb(FORGER, QUIZ_RIGHT),
        "syntax": make_nb("def double(x)\n    return 2 * x", QUIZ_RIGHT),
        # raises with the export cell's source (the hidden snippet) as its message
        "quoter": make_nb(
            "def double(x):\n    from IPython import get_ipython\n"
            "    src = get_ipython().user_ns['In'][-1]\n"
            "    raise RuntimeError(src[src.find('_rng'):][:250])",
            QUIZ_RIGHT,
        ),
    }


@pytest.fixture(scope="module")
def limits_batch(tmp_path_factory):
    """Grade the limits batch once with a credential in the grader's environment."""
    base = tmp_path_factory.mktemp("limits")
    tree = make_tree(base / "instructor")
    # a prelude that leaves a temporary file behind, in the grader (references) and in every kernel,
    # as TensorFlow's autograph does
    checks = tree / CHAPTER / "checks.py"
    leaving = "import numpy as np\\nimport os, tempfile\\n"
    leaving += "os.close(tempfile.mkstemp(prefix='course-leftover-')[0])\\n"
    checks.write_text(checks.read_text().replace('PRELUDE = "import numpy as np\\n"', f'PRELUDE = "{leaving}"'))
    assert "course-leftover-" in checks.read_text()
    subs = base / "subs"
    subs.mkdir()
    for name, nb in hostile_limits().items():
        nbformat.write(nb, subs / f"{name}.ipynb")
    (subs / ("F" * 255)).mkdir()  # a student's folder with the longest name
    nbformat.write(make_nb(RIGHT, QUIZ_RIGHT), subs / ("F" * 255) / "ch98.ipynb")
    (subs / "linked.ipynb").symlink_to(subs / "ref.ipynb")  # planted next to the others: earns nothing
    private_tmp = base / "tmp"  # the grader's temporary folder, private: other graders on the machine do not count
    private_tmp.mkdir()
    previous, tempfile.tempdir = tempfile.tempdir, str(private_tmp)
    limits = g.Limits(cell_timeout=20, notebook_timeout=90, memory_mb=1500, disk_mb=64, max_output_kb=64)
    out = base / "out"
    settings = g.Settings(subs, tree, out, chapter=CHAPTER, jobs=2, limits=limits, unsafe_no_sandbox=sandbox_missing())
    os.environ[SECRET] = "s3cr3t"
    try:
        results = {r.student: r for r in g.grade(settings)}
    finally:
        os.environ.pop(SECRET, None)
        tempfile.tempdir = previous
    left = set(os.listdir(private_tmp))
    return results, out, left


def score(results, student: str) -> dict[str, float]:
    """Points per exercise of one submission."""
    return {e.exercise: e.points for e in results[student].exercises}


def message(results, student: str, exercise: str) -> str:
    """One exercise's verdict message."""
    return next(e.message for e in results[student].exercises if e.exercise == exercise)


def test_the_reference_is_graded_without_any_note(limits_batch):
    results, _, _ = limits_batch
    assert results["ref"].score == 3 and results["ref"].notes == []


def test_the_graders_environment_does_not_reach_the_kernel(limits_batch):
    results, _, _ = limits_batch
    assert score(results, "credential")["ch98.double"] == 0


@pytest.mark.skipif(sandbox_missing(), reason="the caps on /tmp and the working folder are the sandbox's")
def test_tmp_and_the_working_folder_are_capped(limits_batch):
    results, _, _ = limits_batch
    notes = " | ".join(results["filltmp"].notes)
    assert notes.count("No space left on device") == 2, notes
    assert results["filltmp"].score == 3  # the rest is graded


def test_a_flooded_guard_log_and_an_enormous_message_are_bounded(limits_batch):
    results, _, _ = limits_batch
    res = results["floodlog"]
    assert len([i for i in res.internal if i.startswith("blocked:")]) <= 20
    assert res.score == 3, res.notes  # the enormous message was dropped, the rest graded


def test_any_file_name_works(limits_batch):
    results, out, _ = limits_batch
    long_ones = [r for k, r in results.items() if k.startswith(("LLLL", "FFFF"))]
    assert len(long_ones) == 2 and all(r.score == 3 for r in long_ones)
    assert all(len(p.name) < 100 for p in (out / "feedback").iterdir())


def test_a_planted_symlink_earns_nothing(limits_batch):
    results, _, _ = limits_batch
    assert results["linked"].score == 0 and "symbolic link" in " ".join(results["linked"].notes)


def test_nothing_is_left_in_the_temporary_folder(limits_batch):
    _, _, left = limits_batch
    assert left == set(), left


def test_a_forged_export_earns_nothing(limits_batch):
    results, _, _ = limits_batch
    assert score(results, "forger")["ch98.double"] == 0
    assert "forged" in message(results, "forger", "ch98.double")


def test_a_syntax_error_is_named_and_not_told_to_run_its_cell(limits_batch):
    results, _, _ = limits_batch
    text = message(results, "syntax", "ch98.double") + " | ".join(results["syntax"].notes)
    assert "raised SyntaxError" in text and "run its exercise cell" not in text
    assert "of the notebook" in text
    assert not any(ch.isdigit() and ".py" in text for ch in text.split()), text  # no 2714562179.py


def test_feedback_never_quotes_the_hidden_checks_code(limits_batch):
    results, out, _ = limits_batch
    feedback = (out / "feedback" / "quoter.md").read_text()
    assert "default_rng" not in feedback and "_rng.normal" not in feedback, feedback
    assert wording.WITHHELD in feedback
    assert score(results, "quoter")["ch98.double"] == 0


def test_no_honest_notebook_is_accused(limits_batch):
    results, _, _ = limits_batch
    for student in ("ref", "credential", "syntax", "forger"):
        assert "forbidden" not in " ".join(results[student].notes), student


# --- the canary, grading errors and exit codes -------------------------------------------------


def write_batch(tmp_path: Path, solutions: str = SOLUTIONS) -> tuple[Path, Path]:
    """A tree (with the given solutions.py) and a folder of two submissions."""
    tree = make_tree(tmp_path / "instructor")
    (tree / CHAPTER / "solutions.py").write_text(solutions)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(make_nb(RIGHT, QUIZ_RIGHT), subs / "ann.ipynb")
    nbformat.write(make_nb(), subs / "bob.ipynb")
    return tree, subs


def cli(tree: Path, subs: Path, out: Path) -> list[str]:
    """The command line of a batch (unsandboxed where bubblewrap is missing)."""
    return [str(subs), "--instructor", str(tree), "--out", str(out), "--chapter", CHAPTER] + (
        ["--unsafe-no-sandbox"] if sandbox_missing() else []
    )


@pytest.mark.kernel
def test_a_canary_that_fails_in_the_kernel_stops_the_batch_before_grading(tmp_path, capsys, monkeypatch):
    # the reference reads a variable of the grader's environment, which the kernel does not get
    leaky = SOLUTIONS.replace(
        '"def double(x):\\n    return 2 * np.asarray(x)\\n"',
        '"import os\\ndef double(x):\\n    return 2 * np.asarray(x) * int(os.environ[\'COURSE_CANARY_PROBE\'])\\n"',
    )
    assert leaky != SOLUTIONS
    tree, subs = write_batch(tmp_path, leaky)
    monkeypatch.setenv("COURSE_CANARY_PROBE", "1")
    assert g.main(cli(tree, subs, tmp_path / "out")) == 3
    err = capsys.readouterr().err
    assert "canary failed: the reference solutions of ch98 score 1 / 3" in err and "COURSE_CANARY_PROBE" in err
    assert not (tmp_path / "out" / "grades.csv").exists(), "nobody may be graded"


@pytest.mark.kernel
@pytest.mark.skipif(sandbox_missing(), reason="needs bubblewrap")
def test_a_sandbox_that_hides_python_fails_the_canary_with_the_cause(tmp_path, capsys, monkeypatch):
    # the old mount order: an empty tmpfs over the Python installation, as under /tmp before the fix
    real = batch_module.bwrap_prefix

    def hiding(*args, **kwargs):
        cmd = real(*args, **kwargs)
        at = cmd.index("--remount-ro")
        return cmd[:at] + ["--tmpfs", str(Path(sys.prefix).resolve())] + cmd[at:]

    monkeypatch.setattr(batch_module, "bwrap_prefix", hiding)
    tree, subs = write_batch(tmp_path)
    assert g.main(cli(tree, subs, tmp_path / "out")) == 3
    err = capsys.readouterr().err
    assert "the kernel did not start" in err and "nobody was graded" in err


@pytest.mark.kernel
def test_a_grading_error_is_never_the_students_fault_and_sets_the_exit_code(tmp_path, capsys, monkeypatch):
    tree, subs = write_batch(tmp_path)
    real = batch_module._Batch.run_one

    async def failing(self, sub, plan, workdir):
        if sub.student == "bob":
            raise OSError("disk of the grader is full")
        return await real(self, sub, plan, workdir)

    monkeypatch.setattr(batch_module._Batch, "run_one", failing)
    out = tmp_path / "out"
    assert g.main(cli(tree, subs, out)) == 1
    assert "1 submission(s) not graded because of grading errors" in capsys.readouterr().err
    feedback = (out / "feedback" / "bob.md").read_text()
    assert "Grade not given: grading error" in feedback and "not a problem with your notebook" in feedback
    with open(out / "grades.csv", encoding="utf-8") as f:
        rows = {r["student"]: r for r in csv.DictReader(f)}
    assert rows["bob"]["status"] == "grading error" and rows["bob"]["score"] == ""
    assert rows["ann"]["status"] == "graded" and rows["ann"]["score"] == "3"
    assert json.loads((out / "grades.json").read_text())["grading_errors"] == 1


@pytest.mark.kernel
def test_unsafe_no_sandbox_grades_without_bwrap_even_where_it_works(tmp_path):
    tree, subs = write_batch(tmp_path)
    out = tmp_path / "out"
    assert g.main([*cli(tree, subs, out), "--unsafe-no-sandbox"]) == 0
    assert json.loads((out / "grades.json").read_text())["isolation"] == "none"


# --- the guard and the grader's own memory, without a batch ------------------------------------


def test_the_guard_does_not_accuse_python_writing_bytecode(tmp_path):
    """Importing a module without a .pyc in a read-only package is not a forbidden operation."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "honest_module.py").write_text("VALUE = 1\n")
    log = tmp_path / "guard.log"
    log.touch()
    script = (
        "import sys\nfrom course_utils.grading.kernel_side import _guard\n"
        f"_guard((), ({str(package)!r},), {str(log)!r}, 'DENIED')\n"
        f"sys.path.insert(0, {str(package)!r})\nimport honest_module\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    assert log.read_text() == "" and not (package / "__pycache__").exists()


def test_the_grader_reads_at_most_a_bounded_head_of_what_a_kernel_writes(tmp_path):
    big = tmp_path / "log"
    big.write_bytes(b"x" * (20 * 1024 * 1024))
    assert len(batch_module._head(big)) == batch_module.MAX_LOG


def test_messages_lose_ipythons_internal_file_names():
    assert wording.scrub("invalid syntax (2714562179.py, line 3)") == "invalid syntax (line 3 of the cell)"
    assert "ipykernel" not in wording.scrub('File "/tmp/ipykernel_71/2714562179.py", line 2')


@pytest.mark.kernel
@pytest.mark.slow
def test_the_graders_memory_stays_bounded_whatever_a_notebook_prints(tmp_path):
    """The grader's peak memory with a notebook that sends 40 MB in one message and floods its log."""
    tree = make_tree(tmp_path / "instructor")
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(flooder(300), subs / "flood.ipynb")
    nbformat.write(make_nb(RIGHT, QUIZ_RIGHT), subs / "ref.ipynb")
    # VmHWM, not ru_maxrss: on Linux ru_maxrss keeps the high-water mark of the process that forked
    # this one (pytest, with TensorFlow loaded, in a full run), while VmHWM starts afresh at exec.
    script = (
        "import re, sys\nfrom course_utils import grade as g\n"
        f"rc = g.main({cli(tree, subs, tmp_path / 'out')!r})\n"
        "status = open('/proc/self/status').read()\n"
        "print(re.search(r'VmHWM:\\s+(\\d+)', status).group(1), rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    peak_kb, rc = map(int, done.stdout.split()[-2:])
    assert rc == 0, done.stderr[-2000:]
    assert peak_kb < 400 * 1024, f"the grader peaked at {peak_kb // 1024} MB"


# --- a tampered clock, and a budget counted without one ------------------------------------------


def test_judges_receive_the_export_cells_time_on_the_graders_clock():
    seen = {}

    def judge(student, reference):
        seen.update(student)
        return g.Verdict(True, "ok")

    chapter = g.HiddenChapter("ch97", {"ch97.a": ""}, {"ch97.a": judge}, {"ch97.a": 1.0}, references={"ch97.a": {}})
    run = g.RunResult(export_seconds={"ch97.a": 12.34})
    forged = '{"value": {"seconds": 0.1, "grader_seconds": 0.1}}'  # a student cannot set the grader's clock
    verdict, _ = g.judge_exercise(chapter, "ch97.a", forged, run, True, 10_000)
    assert verdict.passed and seen == {"seconds": 0.1, "grader_seconds": 12.3}


def test_the_training_budget_judge_counts_parameters_and_steps_from_the_recipe(tree, monkeypatch):
    """ch00's training budget: the student returns a recipe; the grader counts and trains it."""
    judge = tree.chapters["ch00"].judges["ch00.train-within-budget"]
    assert "choose_recipe" in tree.chapters["ch00"].exports["ch00.train-within-budget"]
    trained = []

    def fake_accuracy(recipe_json):  # no training here: what the judge would train, and a score
        trained.append(recipe_json)
        return 0.96

    monkeypatch.setitem(judge.__globals__, "_test_accuracy", fake_accuracy)
    # any recipe within the budget: the accuracy is faked, so it need not be a good one
    good = {"widths": [20], "batch_size": 1000, "epochs": 36, "optimizer": "sgd", "learning_rate": 0.5}
    good["schedule"] = "constant"

    def verdict(recipe):
        try:
            return judge({"ok": recipe}, {})
        except g.CheckFailed as stop:
            return stop.verdict

    assert verdict(good).fraction == 1.0 and "1,980 steps" in verdict(good).message
    wide = verdict({**good, "widths": [128]})  # the chapter's width: 101,770 parameters
    assert wide.fraction == 0.0 and "101,770 parameters" in wide.message
    long = verdict({**good, "batch_size": 64})  # 36 epochs of 860 steps
    assert long.fraction == 0.0 and "30,960 gradient steps" in long.message
    for bad, word in [
        ({**good, "optimizer": "nadam"}, "optimizer"),
        ({**good, "learning_rate": "1e-2"}, "learning_rate"),
        ({**good, "learning_rate": 0.0}, "learning_rate"),
        ({**good, "epochs": True}, "epochs"),
        ({**good, "widths": 25}, "widths"),
        ({**good, "widths": [25.0]}, "widths"),
        ({k: v for k, v in good.items() if k != "schedule"}, "schedule"),
        ({**good, "dropout": 0.2}, "dropout"),
        ([25, 512], "dict"),
    ]:
        refused = verdict(bad)
        assert refused.fraction == 0.0 and word in refused.message, (bad, refused.message)
    assert len(trained) == 2  # only recipes within the budget are trained
    monkeypatch.setitem(judge.__globals__, "_test_accuracy", lambda recipe_json: 0.948)
    assert verdict(good).fraction == 0.5
    monkeypatch.setitem(judge.__globals__, "_test_accuracy", lambda recipe_json: 0.944)
    assert verdict(good).fraction == 0.0
    stub = judge_error = None
    try:
        judge({"error": "NotImplementedError (the stub is not completed yet)"}, {})
    except g.CheckFailed as stop:
        stub, judge_error = stop.verdict, True
    assert judge_error and stub.fraction == 0.0 and "choose_recipe" in stub.message
