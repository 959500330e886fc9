"""How fast does the grader go, and what does its safety cost over running the notebooks plainly?

    .venv/bin/python benchmarks/grader.py                 # 20 submissions of chapter 1, 2 jobs
    .venv/bin/python benchmarks/grader.py --chapter ch00 --count 10

Builds a batch of submissions from the chapter's notebook: complete ones (the reference
solutions), untouched ones (the stubs) and ones with wrong answers, in turn. Grades the batch with
`course-grade` (sandboxed when bubblewrap works, hidden exports, judging, reports), then executes
the same exercise sections with plain nbclient, as many at a time, in the same run. Prints the
submissions per minute and the ratio of the two wall times (the grader's overhead) on its last line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course_utils import grade as g
from course_utils.grading.sandbox import bubblewrap_works

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the reference exports import TensorFlow
ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
INSTRUCTOR = ROOT / "instructor"


def submissions(chapter: str, count: int, folder: Path) -> list[Path]:
    """`count` notebooks: reference, stub and wrong answers in turn (one folder per student)."""
    tree = g.load_instructor_tree(INSTRUCTOR)
    hidden = tree.chapters[chapter]
    source = next(BOOK.glob(f"{chapter}_*.ipynb"))
    wrong = [(i, src) for i, pairs in hidden.wrong.items() for _, src in pairs]
    paths = []
    for n in range(count):
        nb = nbformat.read(source, as_version=4)
        kind = n % 3
        for cell in nb.cells:
            exercise = cell.metadata.get("course", {}).get("exercise")
            if exercise is None:
                continue
            if kind == 0:
                cell.source = hidden.solutions[exercise].strip()
            elif kind == 2 and wrong:
                wrong_id, wrong_source = wrong[n % len(wrong)]
                cell.source = (wrong_source if exercise == wrong_id else hidden.solutions[exercise]).strip()
        path = folder / f"student{n:02d}" / source.name
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def exercise_section(path: Path) -> nbformat.NotebookNode:
    """The cells the grader runs: from the `## Exercises` marker to the end (code cells only)."""
    nb = nbformat.read(path, as_version=4)
    start = next(i for i, c in enumerate(nb.cells) if c.metadata.get("course", {}).get("grading") == "start")
    nb.cells = [c for c in nb.cells[start:] if c.cell_type == "code"]
    return nb


async def plain_nbclient(paths: list[Path], jobs: int, workdir: Path) -> float:
    """The baseline: the same sections in plain kernels, `jobs` at a time, nothing else."""
    semaphore = asyncio.Semaphore(jobs)

    async def run(path: Path) -> None:
        async with semaphore:
            folder = workdir / path.parent.name
            folder.mkdir()
            client = NotebookClient(
                exercise_section(path),
                timeout=600,
                kernel_name="python3",
                allow_errors=True,
                resources={"metadata": {"path": str(folder)}},
            )
            await client.async_execute()

    start = time.perf_counter()
    await asyncio.gather(*(run(p) for p in paths))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chapter", default="ch01")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    isolation = "bwrap" if bubblewrap_works() else "none"
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        tmp = Path(tmp)
        paths = submissions(args.chapter, args.count, tmp / "submissions")
        grader_args = [str(tmp / "submissions"), "--instructor", str(INSTRUCTOR), "--out", str(tmp / "grades")]
        grader_args += ["--chapter", args.chapter, "--jobs", str(args.jobs)]
        if isolation == "none":
            grader_args.append("--unsafe-no-sandbox")
        start = time.perf_counter()
        results = g.grade(g.parse_args(grader_args))
        graded = time.perf_counter() - start
        plain_dir = tmp / "plain"
        plain_dir.mkdir()
        plain = asyncio.run(plain_nbclient(paths, args.jobs, plain_dir))
        shutil.rmtree(tmp / "submissions")
    scores = sorted({round(r.percent) for r in results})
    print(f"graded {len(results)} {args.chapter} submissions (scores {scores} %) with {args.jobs} jobs")
    print(f"grader (isolation {isolation}): {graded:.1f} s; plain nbclient on the same cells: {plain:.1f} s")
    print(
        f"grader: {len(results) / graded * 60:.1f} submissions per minute; overhead over plain nbclient "
        f"{graded / plain:.2f}x ({args.count} submissions, {args.jobs} jobs, isolation {isolation})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
