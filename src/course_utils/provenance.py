"""Where a chapter's saved outputs came from: a stamp written when the notebook is executed.

The book renders the outputs saved in each notebook instead of executing every chapter again at
every build (CI executes each notebook once, under nbval). That is only honest if the saved outputs
come from a complete, in-order run of the current code. So the command that executes the chapters
(`make execute`) writes a stamp into each notebook's metadata, and a test recomputes it:

- the digest of the notebook's code cells (their sources, in order),
- the digest of the ``course_utils`` package the notebook imports, and of ``requirements.txt``
  (the pinned TensorFlow, Keras and the rest),
- execution counts 1, 2, 3, ... on the (non-empty) code cells in order: one fresh kernel, top to
  bottom.

Any edit to a code cell, to the package or to the pins makes the stamp stale, and the test says
which notebook to execute again. Editing prose (markdown cells) needs no new run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STAMP_KEY = "execution"  # notebook metadata: {"course": {"execution": {...}}}
# The instructors' grader is part of the package but no chapter imports it: editing it does not
# change what a chapter prints, so it does not make the chapters' outputs stale.
NOT_IMPORTED_BY_CHAPTERS = ("grading", "grade.py")


def _digest(chunks: Iterable[bytes]) -> str:
    sha = hashlib.sha256()
    for chunk in chunks:
        sha.update(len(chunk).to_bytes(8, "big"))  # length-prefixed: no two sequences collide
        sha.update(chunk)
    return sha.hexdigest()


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def code_digest(nb: dict[str, Any]) -> str:
    """SHA-256 of the sources of the notebook's code cells, in order (metadata and outputs ignored)."""
    return _digest(_source(c).encode() for c in nb["cells"] if c.get("cell_type") == "code")


def environment_digest(package: Path, requirements: Path | None) -> str:
    """SHA-256 of the package's ``.py`` files a chapter can import (path and content) and of the pins."""
    files = sorted(
        p
        for p in package.rglob("*.py")
        if "__pycache__" not in p.parts and p.relative_to(package).parts[0] not in NOT_IMPORTED_BY_CHAPTERS
    )
    chunks = [p.relative_to(package).as_posix().encode() + b"\0" + p.read_bytes() for p in files]
    if requirements is not None and requirements.is_file():
        chunks.append(b"requirements.txt\0" + requirements.read_bytes())
    return _digest(chunks)


def make_stamp(nb: dict[str, Any], environment: str, seconds: float, peak_mb: float) -> dict[str, Any]:
    """The stamp `make execute` writes after a complete run (time and memory for the statistics page)."""
    return {
        "code_sha256": code_digest(nb),
        "environment_sha256": environment,
        "seconds": round(float(seconds), 1),  # wall time of the whole notebook, kernel start included
        "peak_mb": round(float(peak_mb)),  # peak resident memory of the kernel and its children
    }


def stamp_problems(nb: dict[str, Any], environment: str) -> list[str]:
    """Why the saved outputs may not come from a complete run of the current code (empty: they do)."""
    stamp = nb.get("metadata", {}).get("course", {}).get(STAMP_KEY)
    if not isinstance(stamp, dict):
        return ["no execution stamp: the notebook was never executed with `make execute`"]
    problems = []
    if stamp.get("code_sha256") != code_digest(nb):
        problems.append("its code cells changed since the run that produced the saved outputs")
    if stamp.get("environment_sha256") != environment:
        problems.append("course_utils or requirements.txt changed since the saved outputs were produced")
    counts = [c.get("execution_count") for c in nb["cells"] if c.get("cell_type") == "code" and _source(c).strip()]
    if counts != list(range(1, len(counts) + 1)):
        problems.append(f"the code cells did not run once each, in order, in one kernel: {counts[:12]}")
    return problems
