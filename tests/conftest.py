"""Shared fixtures and paths of the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
INSTRUCTOR = ROOT / "instructor"
SHARED_DATA = ROOT.parent / "shared" / "data"
HTML = ROOT / "_build" / "html"


def sandbox_missing() -> bool:
    """True where bubblewrap cannot isolate kernels: the grader's tests then grade unsandboxed."""
    from course_utils.grading.sandbox import bubblewrap_works

    return not bubblewrap_works()


@pytest.fixture(scope="session", autouse=True)
def offline_mnist():
    """Point the loader at the shared MNIST copy when there is one and nothing else is set."""
    if not os.environ.get("COURSE_DATA_DIR") and (SHARED_DATA / "mnist.npz").is_file():
        os.environ["COURSE_DATA_DIR"] = str(SHARED_DATA)
        yield
        os.environ.pop("COURSE_DATA_DIR", None)
    else:
        yield


@pytest.fixture(scope="session")
def tree():
    """The instructors' hidden tree, loaded once (skips where the tree is kept private)."""
    from course_utils import grade as g

    if not INSTRUCTOR.is_dir():
        pytest.skip("no instructor tree in this checkout")
    return g.load_instructor_tree(INSTRUCTOR)


@pytest.fixture(scope="session")
def built_book() -> Path:
    """The built site in _build/html; a test fails on a build older than the pages' sources."""
    if not (HTML / "index.html").is_file():
        pytest.skip("the book has not been built: run `make book` first")
    settings = [ROOT / name for name in ("_config.yml", "_toc.yml", "references.bib")]
    stale = []
    for source in sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md")):
        page = HTML / "book" / f"{source.stem}.html"
        if not page.is_file() or page.stat().st_mtime < source.stat().st_mtime:
            stale.append(source.name)
    # Sphinx rewrites only the pages a settings change affects: the last build must be newer
    last_build = max(p.stat().st_mtime for p in (HTML / "book").glob("*.html"))
    stale += [p.name for p in settings if p.exists() and p.stat().st_mtime > last_build]
    if stale:
        pytest.fail(
            f"_build/html is older than {', '.join(stale)} (or the book settings): run `make book` "
            "again before testing the built pages"
        )
    return HTML


def pytest_collection_modifyitems(config, items):
    """Mark what the fast loop (`make test-fast`) leaves out: notebooks and the grader's kernels."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
        fixtures = getattr(item, "fixturenames", ())
        if any(f == "batch" or f.endswith("_batch") for f in fixtures):  # a batch graded in real kernels
            item.add_marker(pytest.mark.kernel)
