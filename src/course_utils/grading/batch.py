"""The batch: plan, run (in parallel) and judge every submission, then write the reports."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from course_utils.grading.hidden import InstructorTree, ensure_references, load_instructor_tree, tree_digest
from course_utils.grading.judge import judge_submission
from course_utils.grading.kernel_side import export_cells_source, guard_cell_source
from course_utils.grading.plan import find_submissions, plan_submission
from course_utils.grading.reports import write_reports
from course_utils.grading.runner import _kernel_env, processes_of_run, run_submission
from course_utils.grading.sandbox import (
    bwrap_prefix,
    check_hidden_paths_stay_hidden,
    choose_isolation,
    data_paths,
    limits_prefix,
    prepare_workdir,
    python_paths,
)
from course_utils.grading.types import GraderError, Settings, Submission, SubmissionResult


def _read(path: Path) -> bytes:
    """A submission's bytes; b"" (reported as an empty notebook) when it cannot be read."""
    try:
        return path.read_bytes() if path.is_file() else b""
    except OSError:
        return b""


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


async def _grade_all(
    subs: list[Submission], tree: InstructorTree, settings: Settings, isolation: str
) -> list[SubmissionResult]:
    """Plan, run (in parallel) and judge every submission."""
    plans = [plan_submission(_read(s.path), tree, settings.chapter) for s in subs]
    for p in plans:
        if p.fatal is None and p.chapter is not None:
            ensure_references(tree.chapters[p.chapter])
    base = Path(tempfile.mkdtemp(prefix="course-grade-"))
    workdirs = [base / f"s{k}" for k in range(len(subs))]
    for w in workdirs:
        w.mkdir()
    out = str(settings.out.resolve())
    originals = [str(s.path.resolve()) for s in subs]
    sem = asyncio.Semaphore(max(1, settings.jobs))
    readable = python_paths() + data_paths()  # what a sandboxed kernel may read
    if isolation == "bwrap":
        check_hidden_paths_stay_hidden(readable, [str(tree.root), out, str(settings.submissions.resolve())])

    async def one(k: int) -> SubmissionResult:
        """One submission; whatever goes wrong with it becomes a note on it, and the batch goes on."""
        try:
            return await grade_one(k)
        except Exception as err:
            res = SubmissionResult(
                subs[k].student,
                str(subs[k].path),
                plans[k].chapter,
                notes=["The grader could not grade this notebook; your instructor has the details."],
            )
            res.internal.append(f"grading failed: {type(err).__name__}: {err}\n{traceback.format_exc(limit=5)}")
            return res

    async def grade_one(k: int) -> SubmissionResult:
        sub, plan = subs[k], plans[k]
        if plan.fatal is not None or plan.chapter is None:
            return SubmissionResult(sub.student, str(sub.path), plan.chapter, notes=[plan.fatal or "Not graded."])
        chapter = tree.chapters[plan.chapter]
        others = [str(w.resolve()) for j, w in enumerate(workdirs) if j != k]
        log = (base / f"guard-{k}.log").resolve()
        log.touch()
        # In the sandbox the grader's paths do not exist, so the guard need not (and must not) name them:
        # the list would show every student the names of the others.
        hidden = [] if isolation == "bwrap" else [str(tree.root), out, *originals, *others]
        guard = guard_cell_source(hidden, [_package_dir()], str(log), settings.limits.max_output_kb * 1024)
        prefix = limits_prefix(settings.limits)
        if isolation == "bwrap":
            prepare_workdir(workdirs[k])
            prefix = bwrap_prefix(workdirs[k], readable, [str(log)]) + prefix
        exports = export_cells_source(
            chapter, [i for i in chapter.ids if i in plan.present], settings.limits.max_export_kb * 1024
        )
        env = _kernel_env([str(tree.root), out])
        async with sem:
            run = await run_submission(
                plan.cells,
                exports,
                workdirs[k],
                guard,
                settings.limits,
                env,
                prefix=prefix,
                sandboxed=isolation == "bwrap",
            )
        if log.is_file():
            run.denied += [line for line in log.read_text(errors="replace").splitlines() if line][:20]
        return judge_submission(sub, chapter, plan, run, settings.limits)

    try:
        return list(await asyncio.gather(*(one(k) for k in range(len(subs)))))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def grade(settings: Settings) -> list[SubmissionResult]:
    """Grade every submission and write the reports; raises GraderError on misuse."""
    tree = load_instructor_tree(settings.instructor)
    _check_paths(settings)
    subs = find_submissions(settings.submissions)
    if not subs:
        raise GraderError(f"no .ipynb files under {settings.submissions}")
    isolation = choose_isolation(settings.unsafe_no_sandbox)
    started = time.monotonic()
    results = asyncio.run(_grade_all(subs, tree, settings, isolation))
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
        "processes_left_after_submissions": sum(r.survivors for r in results),
        # the final check: no process of any submission may be alive once the batch is over
        "processes_alive_after_batch": sum(len(processes_of_run(r.mark)) for r in results if r.mark),
    }
    write_reports(results, settings.out, settings.feedback_format, changed, batch)
    return results
