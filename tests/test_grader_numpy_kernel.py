"""Forged exports cannot forge the framework list: NumPy-only exercises are graded again without frameworks.

The hidden NumPy-only refusal watches what runs in the student's kernel, and the student's code runs
there too: a notebook that forges the export channel (``json.dumps``, IPython's ``display``) can
send back "no framework ran" with values Keras computed. Every such forgery below passed before the
grader ran the NumPy-only exercises again, in a second, fresh kernel of the same sandbox where no
framework can be imported (a blocker installed before any student code, the frameworks' folders
emptied in the sandbox); the lower verdict counts. Honest notebooks, one that imports Keras without
using it in the exercise and one whose other cells use Keras, keep full marks, and the canary passes.
"""

from __future__ import annotations

import nbformat
import pytest

from course_utils import grade as g

from conftest import sandbox_missing

pytest.importorskip("keras")

CHAPTER = "ch96"

CHECKS = '''
"""A fake NumPy-only chapter: one exercise checked with numpy_only."""
import numpy as np
from course_utils.checking import Verdict, fail
from course_utils.grading.kit import Answers, HiddenCheck, each_case, mismatch, numpy_only, refuse_frameworks

PRELUDE = "import numpy as np\\nimport keras\\n"

_EXPORT_DOUBLE = numpy_only(
    """
_rng = np.random.default_rng(5)
_export = {"cases": [_call("double", _rng.normal(size=7)) for _ in range(3)]}
""",
    "double",
)


def judge_double(student, reference):
    refuse_frameworks(student, "double")
    for i, got, exp in each_case(student, reference, "double"):
        hint = mismatch(got, exp["ok"], f"double(x) in hidden case {i}")
        if hint is not None:
            fail(hint)
    return Verdict(True, "Correct on all hidden cases.")


CHECKS = [
    HiddenCheck(
        "ch96.double",
        2,
        _EXPORT_DOUBLE,
        judge_double,
        Answers(
            "def double(x):\\n    return 2 * np.asarray(x)\\n",
            [("squares", "def double(x):\\n    return x**2\\n")],
        ),
    )
]
'''

HONEST = "def double(x):\n    return 2 * np.asarray(x)"
# Keras computes the answer; the forgeries below also make the export say that no framework ran.
BY_KERAS = "def double(x):\n    return keras.ops.convert_to_numpy(keras.ops.multiply(2.0, x))"
FORGE_JSON = """
import json
_dumps = json.dumps
def _forged_dumps(obj, *args, **kwargs):
    try:
        obj["value"]["frameworks"] = []
    except Exception:
        pass
    return _dumps(obj, *args, **kwargs)
json.dumps = _forged_dumps
"""
FORGE_DISPLAY = """
import json
import IPython.display
_display = IPython.display.display
def _forged_display(*objs, **kwargs):
    for obj in objs:
        payload = obj.get("application/x-course-export+json") if isinstance(obj, dict) else None
        if payload:
            value = json.loads(payload["json"])
            value["value"]["frameworks"] = []
            payload["json"] = json.dumps(value)
    return _display(*objs, **kwargs)
IPython.display.display = _forged_display
"""
# and in the kernel without frameworks, it takes the blocker away and imports Keras another way
UNBLOCK = """
import importlib, sys
def double(x):
    if any(type(f).__name__ == "Blocker" for f in sys.meta_path):
        sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "Blocker"]
        for name in [n for n in sys.modules if n.split(".")[0] in ("keras", "tensorflow")]:
            del sys.modules[name]
    k = importlib.import_module("keras")
    return k.ops.convert_to_numpy(k.ops.multiply(2.0, x))
"""

NOTEBOOKS = {
    "honest": (HONEST, ()),
    "honest-imports-keras": ("import keras\n" + HONEST, ("print(keras.ops.sum(keras.ops.ones(3)))",)),
    # a framework used at the top of the exercise cell, before the function: the cell goes on there
    "honest-seeds-keras": ("keras.utils.set_random_seed(0)\nfrom keras import layers\n" + HONEST, ()),
    "keras": (BY_KERAS, ()),
    "forged-json": (FORGE_JSON + BY_KERAS, ()),
    "forged-display": (FORGE_DISPLAY + BY_KERAS, ()),
    "forged-json-unblocked": (FORGE_JSON + UNBLOCK, ()),
}


def make_nb(double: str, extra: tuple[str, ...]) -> nbformat.NotebookNode:
    """The fake chapter's notebook: imports, extra cells, the exercise cell and a check cell that uses Keras."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["course"] = {"chapter": CHAPTER}
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    code = nbformat.v4.new_code_cell
    start = nbformat.v4.new_markdown_cell("## Exercises")
    start.metadata["course"] = {"grading": "start"}
    exercise = code(double)
    exercise.metadata["course"] = {"exercise": f"{CHAPTER}.double"}
    check = code("print(keras.ops.convert_to_numpy(double(np.ones(2))))")  # a visible check that runs Keras
    check.metadata["course"] = {"check": f"{CHAPTER}.double"}
    nb.cells += [start, code("import numpy as np\nimport keras"), *[code(e) for e in extra], exercise, check]
    return nb


@pytest.fixture(scope="module")
def numpy_batch(tmp_path_factory):
    """Grade every notebook once, canary included (in the sandbox where bubblewrap works)."""
    base = tmp_path_factory.mktemp("numpy-kernel")
    (base / "instructor" / CHAPTER).mkdir(parents=True)
    (base / "instructor" / CHAPTER / "checks.py").write_text(CHECKS)
    subs = base / "subs"
    subs.mkdir()
    for name, (double, extra) in NOTEBOOKS.items():
        nbformat.write(make_nb(double, extra), subs / f"{name}.ipynb")
    limits = g.Limits(cell_timeout=60, notebook_timeout=180)
    settings = g.Settings(
        subs, base / "instructor", base / "out", chapter=CHAPTER, jobs=2, limits=limits,
        unsafe_no_sandbox=sandbox_missing(),
    )  # fmt: skip
    return {r.student: r for r in g.grade(settings)}


def test_the_exercise_is_declared_numpy_only_by_its_snippet(tmp_path):
    (tmp_path / CHAPTER).mkdir()
    (tmp_path / CHAPTER / "checks.py").write_text(CHECKS)
    assert g.load_chapter(tmp_path / CHAPTER).numpy_only == {f"{CHAPTER}.double"}


@pytest.mark.kernel
@pytest.mark.parametrize("student", ["honest", "honest-imports-keras", "honest-seeds-keras"])
def test_honest_notebooks_keep_full_marks_without_a_note(numpy_batch, student):
    result = numpy_batch[student]
    assert result.graded and result.score == result.max_score == 2, [e.message for e in result.exercises]
    assert result.notes == [], result.notes


@pytest.mark.kernel
def test_keras_in_the_exercise_is_refused_by_the_watcher_first(numpy_batch):
    [verdict] = numpy_batch["keras"].exercises
    assert verdict.points == 0 and "NumPy" in verdict.message and "graded again" not in verdict.message


@pytest.mark.kernel
@pytest.mark.parametrize("student", ["forged-json", "forged-display", "forged-json-unblocked"])
def test_a_forged_framework_list_earns_nothing(numpy_batch, student):
    result = numpy_batch[student]
    [verdict] = result.exercises
    assert result.graded and verdict.points == 0, verdict.message
    assert verdict.message.startswith("Graded again in a kernel where Keras"), verdict.message
    assert "raised" in verdict.message, verdict.message  # Keras could not run there


@pytest.mark.slow  # a Python process of its own (a few seconds)
def test_the_blocker_holds_outside_the_sandbox_too():
    """Without bubblewrap (the frameworks' folders then exist), every route to Keras still fails."""
    import os
    import subprocess
    import sys

    from course_utils.grading.kernel_side import framework_blocker_source
    from course_utils.grading.sandbox import framework_folders
    from course_utils.watch import FRAMEWORKS

    probe = framework_blocker_source(FRAMEWORKS, [f + os.sep for f in framework_folders()]) + (
        "import importlib, sys\n"
        "import keras\n"
        "try:\n    keras.ops\nexcept ModuleNotFoundError:\n    print('stub refuses')\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != 'Blocker']\n"
        "for name in [n for n in sys.modules if n.split('.')[0] == 'keras']:\n    del sys.modules[name]\n"
        "try:\n    import keras\nexcept ModuleNotFoundError:\n    print('import refused')\n"
        "try:\n    importlib.import_module('keras').ops\nexcept (ModuleNotFoundError, AttributeError):\n"
        "    print('import_module refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split("\n")[:3] == ["stub refuses", "import refused", "import_module refused"], done
