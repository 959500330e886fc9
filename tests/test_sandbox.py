"""The operating system isolates student kernels (bubblewrap) and nothing a kernel starts outlives it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import nbformat
import psutil
import pytest
from test_grader import CHAPTER, QUIZ_RIGHT, RIGHT, make_nb, make_tree

from course_utils import grade as g
from course_utils.grading import sandbox
from course_utils.grading.runner import run_submission

needs_bwrap = pytest.mark.skipif(not sandbox.bubblewrap_works(), reason="bubblewrap is not available here")

PROBES = [
    # each cell raises, so that what it saw comes back as a note on the run
    "import os\nraise RuntimeError(f'sees tree={os.path.exists(TREE)} out={os.path.exists(OUT)}')",
    "try:\n    open(CHECKS).read()\n    seen = 'read'\nexcept OSError as err:\n    seen = type(err).__name__\n"
    "raise RuntimeError(f'reading checks.py: {seen}')",
    "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9), timeout=2)\n    net = 'open'\n"
    "except OSError as err:\n    net = type(err).__name__\nraise RuntimeError(f'network: {net}')",
    "import os, signal\ntry:\n    os.kill(GRADER, 0)\n    sig = 'reached'\nexcept OSError as err:\n"
    "    sig = type(err).__name__\nraise RuntimeError(f'signal to the grader: {sig}')",
    "import subprocess\nDAEMON = subprocess.Popen(['sleep', '3017'], start_new_session=True)\n"
    "raise RuntimeError('started a daemon')",
]


def run_probes(tmp_path: Path, isolated: bool) -> tuple[str, g.RunResult]:
    """Run the probe cells without the audit-hook guard, so that only the OS stands in the way."""
    tree = make_tree(tmp_path / "instructor")
    out = tmp_path / "out"
    out.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    consts = (
        f"TREE = {str(tree)!r}\nOUT = {str(out)!r}\nCHECKS = {str(tree / CHAPTER / 'checks.py')!r}\n"
        f"GRADER = {os.getpid()}"
    )
    # each test's daemon sleeps an odd duration of its own: a sandboxed one may take a moment to go
    probes = [c.replace("3017", "3017" if isolated else "3019") for c in PROBES]
    cells = [nbformat.v4.new_code_cell(consts)] + [nbformat.v4.new_code_cell(c) for c in probes]
    limits = g.Limits(cell_timeout=20, notebook_timeout=90)
    prefix = sandbox.limits_prefix(limits)
    if isolated:
        prefix = sandbox.bwrap_prefix(work, sandbox.python_paths(), limits=limits) + prefix
    env = sandbox.kernel_environment("bwrap" if isolated else "none")
    run = asyncio.run(run_submission(cells, [], work, "", limits, env, prefix=prefix, sandboxed=isolated))
    return " | ".join(run.notes), run


@pytest.mark.kernel
@needs_bwrap
def test_a_sandboxed_kernel_sees_nothing_hidden_has_no_network_and_leaves_nothing(tmp_path):
    notes, run = run_probes(tmp_path, isolated=True)
    assert "sees tree=False out=False" in notes
    assert "reading checks.py: FileNotFoundError" in notes
    assert "network: " in notes and "network: open" not in notes
    assert "signal to the grader: ProcessLookupError" in notes
    assert "started a daemon" in notes
    assert run.survivors == 0, "the PID namespace ends with the kernel, daemons included"


@pytest.mark.kernel
def test_without_the_sandbox_a_surviving_daemon_is_found_and_killed(tmp_path):
    notes, run = run_probes(tmp_path, isolated=False)
    assert "started a daemon" in notes
    assert run.survivors == 1  # the sleep, found by the run's mark in its environment, and killed
    # an odd duration, so that no other `sleep` on the machine (a shell's, a CI script's) is counted
    # a killed process can take a moment to go on a loaded machine: give it a few seconds (it was
    # told to sleep for 50 minutes, so one that was not killed is still there then)
    daemons = [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "3019"]]
    _, alive = psutil.wait_procs(daemons, timeout=10)
    assert not [p for p in alive if _running(p)]


def _running(process: psutil.Process) -> bool:
    """Still alive and not merely waiting for its parent to collect its exit status."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_grading_refuses_to_run_unisolated_unless_told(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap_works", lambda: False)
    tree = make_tree(tmp_path / "instructor")
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(make_nb(RIGHT, QUIZ_RIGHT), subs / "ann.ipynb")
    with pytest.raises(g.GraderError, match="no sandbox for the students' kernels: install bubblewrap"):
        g.grade(g.Settings(subs, tree, tmp_path / "out", chapter=CHAPTER))
    assert sandbox.choose_isolation(unsafe_no_sandbox=True) == "none"
    assert g.parse_args([str(subs), "--instructor", str(tree), "--unsafe-no-sandbox"]).unsafe_no_sandbox


def test_unsafe_no_sandbox_disables_the_sandbox_even_where_bwrap_works(monkeypatch):
    monkeypatch.setattr(sandbox, "bubblewrap_works", lambda: True)
    assert sandbox.choose_isolation(unsafe_no_sandbox=True) == "none"
    assert sandbox.choose_isolation(unsafe_no_sandbox=False) == "bwrap"


def test_hidden_paths_inside_readable_folders_are_refused(tmp_path):
    with pytest.raises(g.GraderError, match="lies inside"):
        sandbox.check_hidden_paths_stay_hidden([str(tmp_path)], [str(tmp_path / "instructor")])
    sandbox.check_hidden_paths_stay_hidden([str(tmp_path / "env")], [str(tmp_path / "instructor")])


def test_the_kernel_sees_python_and_the_package_but_not_the_project(tmp_path):
    import course_utils

    readable = sandbox.python_paths()
    assert str(Path(sys.prefix).resolve()) in readable
    assert any(Path(course_utils.__file__).resolve().is_relative_to(p) for p in readable)
    root = Path(__file__).resolve().parents[1]
    assert str(root) not in readable and str(root / "instructor") not in readable
    args = sandbox.bwrap_prefix(tmp_path, readable)
    assert "--unshare-all" in args and "--die-with-parent" in args and args[-1] == "--"
    # the capped /tmp is mounted before anything that may live under /tmp, and the root is read-only
    assert args.index("/tmp") < min(args.index(p) for p in readable)
    assert args[args.index("--tmpfs") - 1] == str(g.Limits().disk_mb * 1024 * 1024)
    assert "--remount-ro" in args


@pytest.mark.kernel
@needs_bwrap
def test_a_sandbox_sees_an_environment_and_data_that_live_under_tmp():
    """Folders under /tmp stay visible: the capped /tmp is mounted before them, not over them."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="course-sandbox-test-", dir="/tmp"))
    try:
        data, env_lib, work = root / "data", root / "env" / "lib", root / "work"
        for d in (data, env_lib, work):
            d.mkdir(parents=True)
        (data / "digits.txt").write_text("digits")
        (env_lib / "tmp_module.py").write_text("VALUE = 42\n")
        probe = (
            f"import sys\nsys.path.insert(0, {str(env_lib)!r})\nimport tmp_module\n"
            f"text = open({str(data / 'digits.txt')!r}).read()\n"
            "raise RuntimeError(f'data={text} module={tmp_module.VALUE}')"
        )
        limits = g.Limits(cell_timeout=20, notebook_timeout=90)
        readable = sandbox.python_paths() + [str(data), str(root / "env")]
        prefix = sandbox.bwrap_prefix(work, readable, limits=limits) + sandbox.limits_prefix(limits)
        run = asyncio.run(
            run_submission(
                [nbformat.v4.new_code_cell(probe)],
                [],
                work,
                "",
                limits,
                sandbox.kernel_environment("bwrap"),
                prefix=prefix,
                sandboxed=True,
            )
        )
        assert run.grader_error is None, run.grader_error
        assert "data=digits module=42" in " | ".join(run.notes), run.notes
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_kernel_environment_is_an_allow_list(monkeypatch):
    monkeypatch.setenv("COURSE_TEST_CREDENTIAL", "s3cr3t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    monkeypatch.setenv("COURSE_DATA_DIR", "/data")
    env = sandbox.kernel_environment("bwrap")
    assert "s3cr3t" not in env.values() and env["COURSE_DATA_DIR"] == "/data"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1" and "HOME" not in env  # bwrap sets the home
