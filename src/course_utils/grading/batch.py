"""The batch: plan, run (in parallel) and judge every submission, then write the reports."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from course_utils.grading.canary import CANARY, check_canary, reference_notebook
from course_utils.grading.hidden import (
    HiddenChapter,
    InstructorTree,
    ensure_references,
    load_instructor_tree,
    tree_digest,
)
from course_utils.grading.judge import judge_submission
from course_utils.grading.kernel_side import export_cells_source, framework_blocker_source, guard_cell_source
from course_utils.grading.plan import find_submissions, plan_submission
from course_utils.grading.reports import write_reports
from course_utils.grading.runner import processes_of_run, run_submission
from course_utils.grading.sandbox import (
    bwrap_prefix,
    check_hidden_paths_stay_hidden,
    choose_isolation,
    data_paths,
    framework_folders,
    kernel_environment,
    limits_prefix,
    prepare_fonts,
    python_paths,
)
from course_utils.grading.types import (
    GRADING_ERROR_NOTE,
    GraderError,
    Plan,
    RunResult,
    Settings,
    Submission,
    SubmissionResult,
)
from course_utils.watch import FRAMEWORKS

LINKED = "The submission is a symbolic link, which the grader does not follow: submit the notebook file itself."
MAX_LOG = 64 * 1024  # bytes of a guard log or a kernel's stderr that the grader reads


def _read(path: Path) -> bytes | None:
    """A submission's bytes; None for a symbolic link (never followed); b"" when unreadable.

    O_NOFOLLOW closes the gap between listing the folder and opening the file: a link planted
    in between is refused too.
    """
    if path.is_symlink():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as err:
        return None if err.errno == errno.ELOOP else b""
    try:
        with os.fdopen(fd, "rb") as f:
            return f.read()
    except OSError:
        return b""


def _head(path: Path, limit: int = MAX_LOG) -> str:
    """At most ``limit`` bytes of a file the kernel wrote: its size never reaches the grader's memory."""
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def _remove_tree(path: Path) -> None:
    """Delete a folder even where a kernel took away the permissions of what it created there."""

    def retry(func: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


def _package_dir() -> str:
    """The installed course_utils package folder (read-only for kernels)."""
    return str(Path(__file__).resolve().parents[1])


def _check_paths(settings: Settings) -> None:
    """Refuse settings that would let kernels touch the grader or block their own imports."""
    pkg = Path(_package_dir())
    for name, p in (("--instructor", settings.instructor), ("--out", settings.out)):
        rp = p.resolve()
        if (
            pkg == rp
            or rp in pkg.parents
            or Path(sys.prefix).resolve() in [rp, *rp.parents]
            or rp in Path(sys.prefix).resolve().parents
        ):
            raise GraderError(f"{name} {p} contains the Python installation or course_utils; use a separate folder.")
    sub = settings.submissions.resolve()
    if settings.instructor.resolve() in [sub, *sub.parents]:
        raise GraderError("the submissions must not be inside the instructor tree")


class _Batch:
    """What every run of one batch shares: the settings, the sandbox's folders and read-only paths.

    The canary and the students' submissions go through the same ``run_one``, so that the canary
    proves what the students get.
    """

    def __init__(self, tree: InstructorTree, settings: Settings, isolation: str, base: Path, n_subs: int):
        self.tree, self.settings, self.isolation, self.base = tree, settings, isolation, base
        self.readable = python_paths() + data_paths()  # what a sandboxed kernel may read
        self.frameworks = framework_folders()  # emptied in the kernel that grades NumPy-only exercises
        self.out = str(settings.out.resolve())
        self.env = kernel_environment(isolation)
        self.fonts = prepare_fonts(base / "fonts") if isolation == "bwrap" else None
        self.workdirs = [base / f"s{k}" for k in range(n_subs)]
        self.originals: list[str] = []
        self.sem = asyncio.Semaphore(max(1, settings.jobs))
        if isolation == "bwrap":
            hidden = [str(tree.root), self.out, str(settings.submissions.resolve())]
            check_hidden_paths_stay_hidden(self.readable, hidden)

    async def run_one(self, sub: Submission, plan: Plan, workdir: Path) -> SubmissionResult:
        """Run and judge one planned notebook in its own kernel.

        Its NumPy-only exercises (``HiddenChapter.numpy_only``) then run again in a second, fresh
        kernel in the same sandbox where no framework can be imported, on the same cells but the
        check cells; the judge keeps the lower of the two verdicts (see ``judge``).
        """
        limits = self.settings.limits
        if plan.fatal is not None or plan.chapter is None:
            return SubmissionResult(sub.student, str(sub.path), plan.chapter, notes=[plan.fatal or "Not graded."])
        chapter = self.tree.chapters[plan.chapter]
        present = [i for i in chapter.ids if i in plan.present]
        run = await self._run(chapter, workdir, plan.cells, plan.positions, present, numpy_only=False)
        again = [i for i in present if i in chapter.numpy_only]
        if again and run.grader_error is None:
            kept = [(c, p) for c, p in zip(plan.cells, plan.positions) if not _is_check_cell(c)]
            fresh = await self._run(
                chapter, _numpy_dir(workdir), [c for c, _ in kept], [p for _, p in kept], again, numpy_only=True
            )
            run.fresh = fresh
            run.denied += [d for d in fresh.denied if d not in run.denied]
            run.survivors += fresh.survivors
            if fresh.grader_error is not None:
                run.grader_error = "in the kernel without frameworks: " + fresh.grader_error
        return judge_submission(sub, chapter, plan, run, limits)

    async def _run(
        self,
        chapter: HiddenChapter,
        workdir: Path,
        cells: list[Any],
        positions: list[int],
        ids: list[str],
        numpy_only: bool,
    ) -> RunResult:
        """One kernel: the guard, the cells, the export cells of ``ids``; without frameworks if ``numpy_only``."""
        limits = self.settings.limits
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir.with_name(workdir.name + "-guard.log").resolve()
        log.touch()
        others = [str(d.resolve()) for w in self.workdirs for d in (w, _numpy_dir(w)) if d != workdir]
        # In the sandbox the grader's paths do not exist, so the guard need not (and must not) name them:
        # the list would show every student the names of the others. Its own folder holds its sockets.
        hidden = (
            [str(workdir.resolve())]
            if self.isolation == "bwrap"
            else [str(self.tree.root), self.out, *self.originals, *others]
        )
        guard = guard_cell_source(
            hidden, [_package_dir()], str(log), limits.max_output_kb * 1024, 2 * limits.max_export_kb * 1024
        )
        if numpy_only:
            guard += "\n" + framework_blocker_source(FRAMEWORKS, [f + os.sep for f in self.frameworks])
        prefix = limits_prefix(limits)
        if self.isolation == "bwrap":
            emptied = self.frameworks if numpy_only else []
            prefix = bwrap_prefix(workdir, self.readable, [str(log)], limits, self.fonts, emptied) + prefix
        exports = export_cells_source(chapter, ids, limits.max_export_kb * 1024)
        env = dict(self.env)
        if self.isolation != "bwrap":  # what the kernel leaves in its temporary folder goes with the batch
            (workdir / "tmp").mkdir(exist_ok=True)
            env["TMPDIR"] = str((workdir / "tmp").resolve())
        async with self.sem:
            run = await run_submission(
                cells,
                exports,
                workdir,
                guard,
                limits,
                env,
                prefix=prefix,
                sandboxed=self.isolation == "bwrap",
                positions=positions,
                stderr_path=workdir.with_name(workdir.name + "-stderr.log"),
            )
        run.denied += [line for line in _head(log).splitlines() if line][:20]
        if run.grader_error is not None:
            run.grader_error += "; kernel output: " + _head(workdir.with_name(workdir.name + "-stderr.log"), 2000)
        return run

    async def run_canary(self, chapter: str) -> SubmissionResult:
        """Grade the chapter's reference solutions like a submission (see ``canary``)."""
        import nbformat

        hidden = self.tree.chapters[chapter]
        raw = nbformat.writes(reference_notebook(hidden)).encode()
        plan = plan_submission(raw, self.tree, chapter)
        sub = Submission(CANARY, Path(f"<{CANARY} of {chapter}>"))
        return await self.run_one(sub, plan, self.base / f"canary-{chapter}")


def _is_check_cell(cell: Any) -> bool:
    """A visible check's cell (metadata course.check): skipped in the kernel without frameworks."""
    course = cell.get("metadata", {}).get("course", {}) if isinstance(cell, dict) else {}
    return isinstance(course, dict) and "check" in course


def _numpy_dir(workdir: Path) -> Path:
    """The folder of a submission's second kernel, the one without frameworks."""
    return workdir.with_name(workdir.name + "-numpy")


def _grading_error(sub: Submission, chapter: str | None, cause: str) -> SubmissionResult:
    """A submission the grader failed to grade: no grade, a note that does not blame the student."""
    res = SubmissionResult(sub.student, str(sub.path), chapter, notes=[GRADING_ERROR_NOTE])
    res.grading_error = cause
    res.internal.append(f"grading error: {cause}")
    return res


async def _grade_all(
    subs: list[Submission], tree: InstructorTree, settings: Settings, isolation: str, base: Path
) -> list[SubmissionResult]:
    """Plan every submission, run the canary of each chapter, then run and judge them in parallel."""
    plans = []
    for s in subs:
        raw = _read(s.path)
        plans.append(Plan(None, fatal=LINKED) if raw is None else plan_submission(raw, tree, settings.chapter))
    chapters = sorted({p.chapter for p in plans if p.fatal is None and p.chapter is not None})
    for chapter in chapters:
        ensure_references(tree.chapters[chapter])
    batch = _Batch(tree, settings, isolation, base, len(subs))
    batch.originals = [str(s.path.resolve()) for s in subs]
    for chapter in chapters:  # before anyone is graded
        check_canary(await batch.run_canary(chapter), isolation)

    async def one(k: int) -> SubmissionResult:
        """One submission; a failure of the grader's own becomes a grading error, and the batch goes on."""
        try:
            res = await batch.run_one(subs[k], plans[k], batch.workdirs[k])
        except Exception as err:
            cause = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=5)}"
            return _grading_error(subs[k], plans[k].chapter, cause)
        return res

    return list(await asyncio.gather(*(one(k) for k in range(len(subs)))))


def grade(settings: Settings) -> list[SubmissionResult]:
    """Grade every submission and write the reports; raises GraderError on misuse, CanaryFailed on a canary.

    Everything the batch writes goes to one private temporary folder, removed at the end; the
    grader's own temporary files (TensorFlow's autograph writes some while references are computed)
    go there too, so that nothing is left behind.
    """
    tree = load_instructor_tree(settings.instructor)
    _check_paths(settings)
    subs = find_submissions(settings.submissions)
    if not subs:
        raise GraderError(f"no .ipynb files under {settings.submissions}")
    isolation = choose_isolation(settings.unsafe_no_sandbox)
    started = time.monotonic()
    # matplotlib may make its own temporary cache folder, removed at exit by matplotlib: before the switch
    from matplotlib import font_manager  # noqa: F401

    base = Path(tempfile.mkdtemp(prefix="course-grade-")).resolve()
    own_tmp = base / "grader-tmp"
    own_tmp.mkdir()
    previous_tempdir, tempfile.tempdir = tempfile.tempdir, str(own_tmp)
    try:
        results = asyncio.run(_grade_all(subs, tree, settings, isolation, base))
    finally:
        tempfile.tempdir = previous_tempdir
        _remove_tree(base)
    changed = tree_digest(tree.root) != tree.digest
    if changed:
        for r in results:
            r.internal.append(
                "The instructor tree changed on disk during grading (grades used the copy "
                "loaded before any notebook ran)."
            )
    batch = {
        "isolation": isolation,
        "wall_seconds": round(time.monotonic() - started, 1),
        "grading_errors": sum(not r.graded for r in results),
        "processes_left_after_submissions": sum(r.survivors for r in results),
        # the final check: no process of any submission may be alive once the batch is over
        "processes_alive_after_batch": sum(len(processes_of_run(r.mark)) for r in results if r.mark),
    }
    write_reports(results, settings.out, settings.feedback_format, changed, batch)
    return results
