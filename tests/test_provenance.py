"""The book renders saved outputs: they must come from a complete run of the current code.

`make execute` (benchmarks/notebooks.py --write) runs every chapter and stamps it; these tests
recompute the stamps. A failure names the notebook and what changed: run `make execute` again.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

from course_utils import provenance

from conftest import BOOK, ROOT

CHAPTERS = sorted(BOOK.glob("*.ipynb"))


def _nb(*sources: str, counts: list | None = None) -> dict:
    cells = [{"cell_type": "markdown", "source": "# T", "metadata": {}}]
    for i, source in enumerate(sources):
        count = counts[i] if counts else i + 1
        cells.append({"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": count})
    return {"cells": cells, "metadata": {}}


def _stamped(nb: dict, environment: str = "env") -> dict:
    nb["metadata"]["course"] = {provenance.STAMP_KEY: provenance.make_stamp(nb, environment, 12.34, 456.7)}
    return nb


def test_a_fresh_stamp_passes_and_records_time_and_memory():
    nb = _stamped(_nb("x = 1", "print(x)"))
    assert provenance.stamp_problems(nb, "env") == []
    assert nb["metadata"]["course"]["execution"]["seconds"] == 12.3
    assert nb["metadata"]["course"]["execution"]["peak_mb"] == 457


def test_editing_code_or_the_environment_makes_the_stamp_stale():
    nb = _stamped(_nb("x = 1", "print(x)"))
    nb["cells"][2]["source"] = "print(x + 1)"
    assert "code cells changed" in provenance.stamp_problems(nb, "env")[0]
    assert (
        "a course_utils module it imports, or requirements.txt, changed"
        in provenance.stamp_problems(_stamped(_nb("x")), "other")[0]
    )


def test_outputs_changed_after_the_run_are_caught_however_the_file_stores_text():
    nb = _nb("print(1)")
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n2\n"}]
    _stamped(nb)
    nb["cells"][1]["outputs"][0]["text"] = ["1\n", "2\n"]  # how nbformat writes it: the same output
    assert provenance.stamp_problems(nb, "env") == []
    nb["cells"][1]["outputs"][0]["text"] = ["1\n", "3\n"]
    assert "outputs were changed after the run" in provenance.stamp_problems(nb, "env")[0]


def test_prose_and_outputs_do_not_change_the_code_digest():
    a, b = _nb("x = 1"), _nb("x = 1")
    b["cells"][0]["source"] = "# Another title"
    b["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    assert provenance.code_digest(a) == provenance.code_digest(b)
    # list and string sources are the same code; moving text between cells is not
    assert provenance.code_digest(_nb("x = 1\n", "y")) == provenance.code_digest(_nb(["x = 1\n"], ["y"]))
    assert provenance.code_digest(_nb("x = 1\ny")) != provenance.code_digest(_nb("x = 1\n", "y"))


@pytest.mark.parametrize(
    "counts", [[1, 3], [2, 1], [None, 2], [1, 1]], ids=["gap", "out-of-order", "not-run", "rerun-kernel"]
)
def test_outputs_from_a_partial_or_out_of_order_run_are_refused(counts):
    nb = _stamped(_nb("a", "b", counts=counts))
    assert "did not run once each, in order" in " ".join(provenance.stamp_problems(nb, "env"))


def test_a_notebook_never_executed_has_no_stamp():
    assert "never executed" in provenance.stamp_problems(_nb("a"), "env")[0]


def test_environment_digest_covers_package_files_and_pins(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("A = 1\n")
    pins = tmp_path / "requirements.txt"
    pins.write_text("keras==3.0\n")
    before = provenance.environment_digest(package, pins)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "a.cpython-311.pyc.py").write_text("ignored")
    assert provenance.environment_digest(package, pins) == before
    pins.write_text("keras==3.1\n")
    assert provenance.environment_digest(package, pins) != before
    pins.write_text("keras==3.0\n")
    (package / "a.py").write_text("A = 2\n")
    assert provenance.environment_digest(package, pins) != before


def test_a_notebook_depends_on_the_modules_it_imports_and_theirs(tmp_path):
    package = tmp_path / "course_utils"
    (package / "exercises").mkdir(parents=True)
    (package / "grading").mkdir()
    files = {
        "__init__.py": "",
        "runtime.py": "",
        "data.py": "from .runtime import x\n",
        "plots.py": "import course_utils.runtime\n",
        "recipes.py": "",
        "exercises/__init__.py": "from course_utils.checking import fail\n",
        "exercises/ch01.py": "from ... import outside\n",  # above the package: ignored
        "exercises/ch02.py": "",
        "exercises/ch03.py": "",
        "checking.py": "",
        "grading/__init__.py": "",
        "grading/kit.py": "from .. import runtime\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    nb = _nb(
        "if True:\n    %pip install x\n!ls",
        "from course_utils.data import load\nfrom course_utils import plots",
        "from course_utils.exercises import check\ncheck('ch03.quiz', {})",
        "import course_utils.grading.kit",
    )
    nb["metadata"]["course"] = {"chapter": "ch01"}
    used = sorted(p.relative_to(package).as_posix() for p in provenance.imported_files(nb, package))
    assert used == [
        "__init__.py",
        "checking.py",
        "data.py",
        "exercises/__init__.py",
        "exercises/ch01.py",
        "exercises/ch03.py",  # its checks are called by id
        "grading/__init__.py",  # runs before grading.kit
        "grading/kit.py",
        "plots.py",
        "runtime.py",
    ]
    before = provenance.notebook_environment(nb, package, None)
    (package / "recipes.py").write_text("changed = True\n")  # not imported: the stamp stays valid
    (package / "exercises" / "ch02.py").write_text("changed = True\n")
    assert provenance.notebook_environment(nb, package, None) == before
    (package / "runtime.py").write_text("changed = True\n")  # imported through data.py
    assert provenance.notebook_environment(nb, package, None) != before


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_saved_outputs_come_from_a_run_of_the_current_code(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    environment = provenance.notebook_environment(nb, ROOT / "src" / "course_utils", ROOT / "requirements.txt")
    problems = provenance.stamp_problems(nb, environment)
    assert not problems, (
        f"{path.name}: the book would show outputs that the current code did not produce: "
        f"{'; '.join(problems)}. Run `make execute` (or `.venv/bin/python benchmarks/notebooks.py --write "
        f"book/{path.name}`) and commit the notebook."
    )


def test_execution_statistics_page_is_generated_from_the_stamps():
    spec = importlib.util.spec_from_file_location("bench_notebooks", ROOT / "benchmarks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (BOOK / "execution_stats.md").read_text(encoding="utf-8")
    expected = module.stats_page(CHAPTERS)
    # the machine line may differ from where the tests run; the table must not
    table = [line for line in page.splitlines() if line.startswith("|")]
    assert table == [line for line in expected.splitlines() if line.startswith("|")], (
        "book/execution_stats.md is out of date: run `make execute`"
    )
    assert len(table) == 2 + len(CHAPTERS)
