"""Execute the chapters: wall time and peak memory of each, against the chapter budget.

    .venv/bin/python benchmarks/notebooks.py               # measure only; no file is changed
    .venv/bin/python benchmarks/notebooks.py --write       # `make execute`: also save the outputs
    .venv/bin/python benchmarks/notebooks.py --write book/ch02_losses.ipynb   # one chapter

Each notebook runs top to bottom in a fresh kernel (in `book/`, as the book and nbval run it).
While it runs, a thread samples the resident memory of the kernel and every process it starts.
With `--write`, the executed notebook replaces the saved one, with a stamp in its metadata (the
digests of its code, of `course_utils` and of `requirements.txt`, its time and memory; see
`course_utils.provenance`), and `book/execution_stats.md` is regenerated from the stamps: the
book renders these saved outputs, and a test fails when a stamp no longer matches the code.

The budget (CHAPTER_STANDARD.md): 3 minutes and 2 GB per chapter on 2 CPU cores, the capstone 9
minutes. The last line gives the slowest chapter and the largest memory as fractions of it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

from course_utils import provenance

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
STATS = BOOK / "execution_stats.md"
BUDGET_SECONDS = {"default": 180.0, "ch05": 540.0}  # capstone: 9 minutes
BUDGET_MB = 2048.0
SHARED_DATA = ROOT.parent / "shared" / "data"


def budget_seconds(name: str) -> float:
    """The chapter's time budget in seconds (the capstone, chapter 5, has more)."""
    return next((s for prefix, s in BUDGET_SECONDS.items() if name.startswith(prefix)), BUDGET_SECONDS["default"])


class PeakMemory:
    """Samples the resident memory of this process's children (the kernel and what it starts)."""

    def __init__(self, every: float = 0.1):
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _environment(nb: nbformat.NotebookNode) -> str:
    return provenance.notebook_environment(nb, ROOT / "src" / "course_utils", ROOT / "requirements.txt")


def execute(path: Path) -> tuple[nbformat.NotebookNode, float, float]:
    """Run one notebook in a fresh kernel; return it executed and stamped, with its seconds and peak MB."""
    nb = nbformat.read(path, as_version=4)
    before = _environment(nb)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(BOOK)}})
    with PeakMemory() as memory:
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
    if _environment(nb) != before:
        raise SystemExit(f"{path.name}: course_utils or requirements.txt changed during the run; run it again")
    peak_mb = memory.peak / 2**20
    nb.metadata.setdefault("course", {})[provenance.STAMP_KEY] = provenance.make_stamp(nb, before, seconds, peak_mb)
    return nb, seconds, peak_mb


def save(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write the executed notebook, then read it back and check its stamp as the tests will."""
    nbformat.write(nb, path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    problems = provenance.stamp_problems(saved, _environment(nb))
    if problems:
        raise SystemExit(f"{path.name}: the saved notebook does not pass its own stamp: {problems}")


def stats_page(notebooks: list[Path]) -> str:
    """The "Execution statistics" page, built from the stamps saved in the notebooks."""
    rows = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        stamp = nb.metadata.get("course", {}).get(provenance.STAMP_KEY, {})
        title = next(c.source for c in nb.cells if c.cell_type == "markdown").splitlines()[0].lstrip("# ")
        seconds, peak = stamp.get("seconds"), stamp.get("peak_mb")
        if seconds is None or peak is None:
            rows.append(f"| {{doc}}`{title} <{path.stem}>` | not measured | not measured | |")
            continue
        limit = budget_seconds(path.name)
        within = "yes" if seconds <= limit and peak <= BUDGET_MB else "**no**"
        rows.append(
            f"| {{doc}}`{title} <{path.stem}>` | {seconds:.0f} s | {peak:,.0f} MB | {limit / 60:.0f} min, "
            f"{BUDGET_MB / 1024:.0f} GB | {within} |"
        )
    return "\n".join(
        [
            "# Execution statistics",
            "",
            "Every chapter's outputs in this book come from one complete run of its notebook, top to",
            "bottom in a fresh kernel, by `make execute` (`benchmarks/notebooks.py`). This table is",
            "written by that command from the run itself: the wall time of each notebook (kernel start",
            "included) and the peak resident memory of its kernel and every process the kernel started.",
            "The budget is that of the course's chapter standard, on 2 CPU cores without a GPU.",
            "",
            "| Chapter | Wall time | Peak memory | Budget | Within |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Measured with Python {platform.python_version()} on {os.cpu_count()} CPU cores "
            f"({platform.machine()}). A test checks that every chapter's saved outputs still match its",
            "code, `course_utils` and the pinned requirements; nbval executes every chapter again in CI.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="chapters to run (default: all)")
    parser.add_argument("--write", action="store_true", help="save the executed notebooks and the stats page")
    args = parser.parse_args(argv)
    if not os.environ.get("COURSE_DATA_DIR") and (SHARED_DATA / "mnist.npz").is_file():
        os.environ["COURSE_DATA_DIR"] = str(SHARED_DATA)
    everything = sorted(BOOK.glob("*.ipynb"))
    chosen = [p.resolve() for p in args.notebooks] or everything
    results = []
    for path in chosen:
        nb, seconds, peak = execute(path)
        limit = budget_seconds(path.name)
        flag = "" if seconds <= limit and peak <= BUDGET_MB else "  OVER BUDGET"
        print(f"{path.name:32s} {seconds:7.1f} s  {peak:7.0f} MB  (budget {limit:.0f} s, {BUDGET_MB:.0f} MB){flag}")
        results.append((path, seconds, peak, limit))
        if args.write:
            save(nb, path)
    if args.write:
        STATS.write_text(stats_page(everything), encoding="utf-8")
    slowest = max(results, key=lambda r: r[1] / r[3])
    largest = max(results, key=lambda r: r[2])
    over = [r[0].name for r in results if r[1] > r[3] or r[2] > BUDGET_MB]
    print(
        f"notebooks: {len(results)} run in {sum(r[1] for r in results) / 60:.1f} min; slowest "
        f"{slowest[0].stem} at {slowest[1] / slowest[3]:.2f} of its time budget; largest {largest[0].stem} at "
        f"{largest[2] / BUDGET_MB:.2f} of the memory budget; over budget: {', '.join(over) or 'none'}"
    )
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
