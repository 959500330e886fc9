"""Proof that each chapter's checks are right, for every instructor/chNN folder.

In-process (fast): every reference solution passes its hidden and its visible check, every stub
scores 0, and every plausible wrong answer is rejected by both. End to end (one grader batch per
chapter, real notebook, real kernels): the notebook completed with the references scores 100%,
the untouched notebook scores 0% and runs without an error, a notebook filled with wrong answers
scores 0 on every exercise, and its feedback explains the quiz questions it got wrong.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import grade as g
from course_utils.checking import CheckFailed
from course_utils.exercises import run_check

from conftest import BOOK, INSTRUCTOR, sandbox_missing

CHAPTERS = sorted(p.name for p in INSTRUCTOR.glob("ch*") if (p / "checks.py").is_file()) if INSTRUCTOR.is_dir() else []

pytest.importorskip("keras")


def notebook_of(chapter: str) -> Path:
    """The book's notebook of a chapter."""
    found = sorted(BOOK.glob(f"{chapter}_*.ipynb"))
    if not found:
        pytest.skip(f"no book/{chapter}_*.ipynb yet")
    return found[0]


def stubs(chapter: str) -> dict[str, str]:
    """Exercise id -> the stub in the book's notebook."""
    nb = nbformat.read(notebook_of(chapter), as_version=4)
    return {c.metadata["course"]["exercise"]: c.source for c in nb.cells if "exercise" in c.metadata.get("course", {})}


def filled(chapter: str, sources: dict[str, str]) -> nbformat.NotebookNode:
    """The chapter's notebook with some exercise cells replaced."""
    nb = nbformat.read(notebook_of(chapter), as_version=4)
    for cell in nb.cells:
        exercise_id = cell.metadata.get("course", {}).get("exercise")
        if exercise_id in sources:
            cell.source = sources[exercise_id].strip()
    return nb


def settle_threads(seconds: float = 5.0) -> None:
    """Wait for threads that run code exec'd by an earlier answer (a wrong answer's worker) to end.

    Each student has a kernel of their own; these tests run every answer in one process, where the
    watcher would otherwise see the thread an earlier answer left behind."""
    import threading
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        frames = sys._current_frames()
        if not any(
            frame.f_code.co_filename == "<string>"
            for ident, top in frames.items()
            if ident != threading.get_ident()
            for frame in _stack(top)
        ):
            return
        time.sleep(0.05)


def _stack(frame):
    while frame is not None:
        yield frame
        frame = frame.f_back


def hidden_verdict(chapter: g.HiddenChapter, exercise_id: str, source: str):
    """The hidden check's verdict on a source, judged in this process as the grader judges it."""
    settle_threads()
    exported = g.run_export_in_process(chapter, exercise_id, source)
    try:
        return chapter.judges[exercise_id](exported, g.ensure_references(chapter)[exercise_id])
    except CheckFailed as stop:
        return stop.verdict


def visible_verdict(chapter: g.HiddenChapter, exercise_id: str, source: str):
    """The visible check's verdict on a source, called as the notebook's check cell calls it."""
    nb = nbformat.read(notebook_of(chapter.chapter), as_version=4)
    calls = {
        c.metadata["course"]["check"]: ast.parse(c.source).body[0].value
        for c in nb.cells
        if "check" in c.metadata.get("course", {})
    }
    settle_threads()
    namespace: dict = {}
    exec(chapter.prelude + "\n" + source, namespace)
    args = [eval(compile(ast.Expression(arg), "<check>", "eval"), namespace) for arg in calls[exercise_id].args[1:]]
    return run_check(exercise_id, *args)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_hidden_checks_cover_exactly_the_notebook_exercises(tree, chapter):
    hidden = tree.chapters[chapter]
    assert set(hidden.ids) == set(stubs(chapter)) == set(hidden.solutions) == set(hidden.wrong)
    assert all(hidden.wrong[i] for i in hidden.ids), "every exercise needs at least one wrong answer"


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # diverging wrong answers
def test_hidden_checks_pass_references_and_reject_stubs_and_wrong_answers(tree, chapter):
    hidden = tree.chapters[chapter]
    for exercise_id in hidden.ids:
        ok = hidden_verdict(hidden, exercise_id, hidden.solutions[exercise_id])
        assert ok.passed and ok.fraction == 1.0 and not ok.details, (exercise_id, ok.message)
        stub = hidden_verdict(hidden, exercise_id, stubs(chapter)[exercise_id])
        assert not stub.passed and stub.fraction == 0.0, (exercise_id, stub.message)
        for name, source in hidden.wrong[exercise_id]:
            wrong = hidden_verdict(hidden, exercise_id, source)
            assert not wrong.passed and wrong.fraction < 1.0, (exercise_id, name, wrong.message)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_visible_checks_pass_references_and_reject_wrong_answers(tree, chapter):
    hidden = tree.chapters[chapter]
    for exercise_id in hidden.ids:
        ok = visible_verdict(hidden, exercise_id, hidden.solutions[exercise_id])
        assert ok.passed, (exercise_id, ok.message)
        if exercise_id.endswith("quiz"):
            continue  # the visible quiz check only validates the form of the answers
        stub = visible_verdict(hidden, exercise_id, stubs(chapter)[exercise_id])
        assert not stub.passed and "Not implemented" in stub.message, (exercise_id, stub.message)
        for name, source in hidden.wrong[exercise_id]:
            wrong = visible_verdict(hidden, exercise_id, source)
            assert not wrong.passed, (exercise_id, name, "passes the visible check")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_quiz_question_has_an_explanation(tree, chapter):
    hidden = tree.chapters[chapter]
    for exercise_id in (i for i in hidden.ids if i.endswith("quiz")):
        namespace: dict = {}
        exec(hidden.solutions[exercise_id], namespace)
        explanations = getattr(hidden.judges[exercise_id], "explanations", {})
        assert set(explanations) == set(namespace["quiz_answers"]), exercise_id
        assert all(len(text) > 80 for text in explanations.values()), "explain the answer, do not just state it"


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_end_to_end_reference_untouched_and_wrong_notebooks(tree, chapter, tmp_path):
    hidden = tree.chapters[chapter]
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(filled(chapter, hidden.solutions), subs / "reference.ipynb")
    nbformat.write(filled(chapter, {}), subs / "untouched.ipynb")
    nbformat.write(filled(chapter, {i: hidden.wrong[i][0][1] for i in hidden.ids}), subs / "wrong.ipynb")
    out = tmp_path / "out"
    settings = g.Settings(subs, INSTRUCTOR, out, chapter=chapter, jobs=2, unsafe_no_sandbox=sandbox_missing())
    results = {r.student: r for r in g.grade(settings)}

    ref = results["reference"]
    assert ref.score == ref.max_score > 0, [(e.exercise, e.message) for e in ref.exercises] + ref.notes
    assert ref.notes == [], ref.notes

    untouched = results["untouched"]
    assert untouched.score == 0 and untouched.notes == [], untouched.notes  # it runs without an error
    assert all("NotImplementedError" in e.message or "quiz" in e.exercise for e in untouched.exercises)

    wrong = results["wrong"]
    assert all(not e.passed and e.points < e.max_points for e in wrong.exercises), [
        (e.exercise, e.points, e.message) for e in wrong.exercises
    ]

    # The explanation of every quiz question the wrong notebook missed is in its feedback, and only there.
    quiz = next(i for i in hidden.ids if i.endswith("quiz"))
    missed = next(e for e in wrong.exercises if e.exercise == quiz).details
    feedback = {p.stem: p.read_text() for p in (out / "feedback").glob("*.md")}
    assert missed and "## What to review" in feedback["wrong"]
    explanations = hidden.judges[quiz].explanations
    shown = [q for q, text in explanations.items() if text in feedback["wrong"]]
    assert shown and all(f"**{q}**" in feedback["wrong"] for q in shown), shown
    assert not any(text in feedback["reference"] for text in explanations.values())

    everything = "\n".join(feedback.values())
    for exercise_id in hidden.ids:
        for line in hidden.exports[exercise_id].splitlines() + hidden.solutions[exercise_id].splitlines():
            if len(line.strip()) >= 25:
                assert line.strip() not in everything, (exercise_id, line)
        # no expected value either: no number of the reference exports with 4 significant digits, as a
        # token, in the verdicts and notes (the quiz explanations are the instructor's own text)
        verdicts = re.sub(r"## What to review.*?(?=## Notes|# Feedback|\Z)", "", everything, flags=re.S)
        for value in numbers(g.ensure_references(hidden)[exercise_id]):
            text = f"{value:.4g}"
            if len(text.strip("-0.")) >= 4:
                assert not re.search(rf"(?<![\d.]){re.escape(text)}(?![\d])", verdicts), (exercise_id, text)


def numbers(value) -> list[float]:
    """The floats of an export with at least three significant digits (small integers say nothing)."""
    import numpy as np

    if isinstance(value, dict):
        return [x for v in value.values() for x in numbers(v)]
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in numbers(v)]
    if isinstance(value, np.ndarray):
        return numbers(value.tolist()) if value.size <= 5000 else []
    if isinstance(value, float) and abs(value) >= 1e-3 and abs(round(value, 2) - value) > 1e-9:
        return [value]
    return []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_exercise_id_is_typed_once_in_the_hidden_tree_and_once_in_the_package(tree, chapter):
    """One home per exercise (issue 30): the notebook, the visible check and the hidden record name it."""
    from course_utils import exercises

    package = Path(exercises.__file__).parent
    for exercise_id in tree.chapters[chapter].ids:
        quoted = re.compile(rf"""["']{re.escape(exercise_id)}["']""")
        hidden = {p.name: len(quoted.findall(p.read_text())) for p in (INSTRUCTOR / chapter).glob("*.py")}
        visible = {p.name: len(quoted.findall(p.read_text())) for p in package.glob("*.py")}
        assert {k: v for k, v in hidden.items() if v} == {"checks.py": 1}, (exercise_id, hidden)
        assert {k: v for k, v in visible.items() if v} == {f"{chapter}.py": 1}, (exercise_id, visible)


def exposed_python() -> list[str]:
    """As root: a prefix that runs a command where an unprivileged account can read this Python.

    CI runs as root with pyenv's Python under /root (mode 700), which the account `nobody` cannot
    enter. The prefix runs the command in a private mount namespace (``unshare --mount``) where the
    folder that blocks the way (/root) is an empty, world-readable tmpfs holding only the path to
    the Python installation, bound back from the real one; nothing changes outside the namespace.
    Empty when nothing blocks the way, or when mount namespaces are not allowed.
    """
    import shlex
    import shutil

    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return []
    base = Path(sys.base_prefix).resolve()
    parts = [*reversed(base.parents), base]
    blocked = next(((p, c) for p, c in zip(parts, parts[1:]) if not p.stat().st_mode & 0o001), None)
    if blocked is None:
        return []
    parent, child = (shlex.quote(str(p)) for p in blocked)
    script = (
        f"keep=$(mktemp -d /tmp/course-keep-XXXXXX) && mount --bind {child} \"$keep\" && "
        f"mount -t tmpfs -o mode=755,size=1m tmpfs {parent} && mkdir -p {child} && "
        f"mount --bind \"$keep\" {child} && umount \"$keep\" && rmdir \"$keep\" && exec \"$@\""
    )
    prefix = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh"]
    try:
        works = subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        works = False
    return prefix if works else []


def unprivileged_user() -> str | None:
    """An account without privileges that can run this Python in the grader's sandbox, when we are root.

    The probe runs the sandbox itself: some file systems let `nobody` run an interpreter under
    root's home (such as pyenv's) while bubblewrap, as that account, cannot mount it.
    """
    import pwd
    import shutil
    import tempfile

    from course_utils.grading import sandbox

    if os.geteuid() != 0 or shutil.which("setpriv") is None or sandbox_missing():
        return None
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return None
    ipc = Path(tempfile.mkdtemp(prefix="course-probe-", dir="/tmp"))
    ipc.chmod(0o777)
    inside = sandbox.bwrap_prefix(ipc, sandbox.python_paths())
    probe = [*exposed_python(), "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *inside]
    probe += [sys.executable, "-c", "import course_utils"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=60, cwd="/").returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    finally:
        shutil.rmtree(ipc, ignore_errors=True)
    return "nobody" if ok else None


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_an_unprivileged_account_grades_the_reference_without_accusing_it(tree, chapter, tmp_path):
    """The reference notebook graded by `nobody`, with bytecode writing on and no .pyc cached: full marks, no note."""
    user = unprivileged_user()
    if user is None:
        pytest.skip(
            "needs root, setpriv, bubblewrap, and a Python that the account nobody can run: one it can "
            "read, or a private mount namespace (unshare --mount) that exposes it"
        )
    for cache in (Path(g.__file__).parent).rglob("__pycache__"):  # Python then tries to write the .pyc files
        shutil.rmtree(cache, ignore_errors=True)
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="course-unprivileged-", dir="/tmp"))  # pytest's folders are private
    try:
        subs, out = root / "subs", root / "out"
        subs.mkdir()
        nbformat.write(filled(chapter, tree.chapters[chapter].solutions), subs / "reference.ipynb")
        out.mkdir()
        shutil.chown(out, user)
        for p in (root, subs, subs / "reference.ipynb"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        cmd = [*exposed_python(), "setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups"]
        cmd += [sys.executable, "-m"]
        cmd += ["course_utils.grade", str(subs), "--instructor", str(INSTRUCTOR), "--out", str(out)]
        done = subprocess.run([*cmd, "--chapter", chapter], capture_output=True, text=True, timeout=900, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        [result] = json.loads((out / "grades.json").read_text())["submissions"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert result["score"] == result["max_score"] > 0 and result["notes"] == [], result
    assert not [i for i in result["internal"] if i.startswith("blocked")], result["internal"]


def test_fix_training_loop_grades_the_diagnosis_apart(tree):
    """ch01b.fix-training-loop: half the points for the loop, half for naming the three bugs."""
    hidden = tree.chapters["ch01b"]
    exercise = "ch01b.fix-training-loop"
    solution = hidden.solutions[exercise]
    assert hidden_verdict(hidden, exercise, solution).passed
    misnamed = hidden_verdict(hidden, exercise, solution + '\nbugs = {"A", "E", "G"}\n')
    assert not misnamed.passed and misnamed.fraction == 0.5 and "bugs" in misnamed.message
    broken_loop = solution.replace("w.assign_sub(lr * dw)", "w.assign_add(lr * dw)")
    assert broken_loop != solution
    named_only = hidden_verdict(hidden, exercise, broken_loop)
    assert not named_only.passed and named_only.fraction == 0.5 and "named right" in named_only.message


@pytest.mark.parametrize(
    "what, old, new",
    [
        (
            "judges every step",
            "            end_norm = np.linalg.norm(grad_fn(point))\n",
            "                if np.linalg.norm(grad_fn(point)) >= start_norm:\n                    break\n"
            "            end_norm = np.linalg.norm(grad_fn(point))\n",
        ),
        ("one step too few", "for _ in range(steps):", "for _ in range(steps - 1):"),
        (
            "stops early at 10,000 times the start",
            "                point = point - lr * grad_fn(point)\n",
            "                point = point - lr * grad_fn(point)\n"
            "                if np.linalg.norm(grad_fn(point)) > 1e4 * start_norm:\n"
            "                    break\n",
        ),
        ("one step too many", "for _ in range(steps):", "for _ in range(steps + 1):"),
    ],
)
def test_stable_lr_hidden_check_judges_after_exactly_steps_steps(tree, what, old, new):
    """ch01b.stable-lr: stability is judged once, after exactly `steps` steps."""
    hidden = tree.chapters["ch01b"]
    solution = hidden.solutions["ch01b.stable-lr"]
    assert old in solution
    assert hidden_verdict(hidden, "ch01b.stable-lr", solution).passed
    assert not hidden_verdict(hidden, "ch01b.stable-lr", solution.replace(old, new)).passed, what
