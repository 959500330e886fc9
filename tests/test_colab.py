"""Every chapter runs where students open it: a Colab-like environment (issue 24).

Python 3.12, the newest TensorFlow and Keras, and only what Colab ships (``.ci/colab-requirements.txt``):
no course helpers, no myst-nb, no keras-tuner. Each chapter runs in a fresh kernel there from its
install cell (pointed at a wheel of the working tree instead of the release on GitHub) through its
first training cell, so every import and the first model that trains are exercised. Running whole
chapters a second time would double the notebooks' share of CI; nbval runs them whole once.

Needs a Python 3.12 (pyenv's, or $COLAB_PYTHON). Where there is none the tests skip, except in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from colab_env import (
    ADDED_BY_CELLS,
    PYTHON_VERSION,
    ROOT,
    build,
    colab_notebook,
    find_python,
    installed,
    kernel_spec_dir,
)

pytestmark = [pytest.mark.colab, pytest.mark.slow]

CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))
BOOK_ONLY = ("myst-nb", "jupyter-book", "sphinx", "nbval")  # what the book needs and a student never does


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """(interpreter, kernelspec folder, wheel of the working tree) of the Colab-like environment."""
    python = find_python()
    if python is None:
        message = f"no Python {PYTHON_VERSION} for the Colab-like environment (install one, or set COLAB_PYTHON)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    where = tmp_path_factory.mktemp("colab")
    with open(where / "pip.log", "w") as log:
        started = time.perf_counter()
        interpreter = build(python, log)
        print(f"Colab-like environment ready in {time.perf_counter() - started:.0f} s")
    # the helpers as the release would ship them: a wheel built from a clean copy of the package
    source = where / "source"
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [str(interpreter), "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(where / "dist"), str(source)],
        check=True,
    )
    wheel = next((where / "dist").glob("course_utils-*.whl"))
    return interpreter, kernel_spec_dir(interpreter, where), wheel


def test_the_environment_is_colab_like(colab):
    """Python 3.12, TensorFlow and Keras, and nothing of the course or of the book."""
    interpreter, _, _ = colab
    packages = installed(interpreter)
    version = subprocess.run(
        [str(interpreter), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == PYTHON_VERSION
    assert {"tensorflow", "keras", "numpy", "matplotlib", "ipykernel"} <= packages.keys()
    present = [name for name in (*BOOK_ONLY, *ADDED_BY_CELLS) if name in packages]
    assert not present, f"the Colab-like environment should not have {present}"
    print(f"TensorFlow {packages['tensorflow']}, Keras {packages['keras']}, Python {version}")


def _outputs_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append("".join(out.get("text", "")))
        elif "data" in out:
            parts.append("".join(out["data"].get("text/plain", "")))
    return "".join(parts)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_chapter_runs_in_colab_from_its_install_cell(colab, path, monkeypatch):
    """The install cell brings the helpers (and keras-tuner where needed); imports, data and the first
    training cell then run; the device report says where training runs."""
    import nbclient
    import nbformat

    interpreter, jupyter_path, wheel = colab
    subprocess.run(
        [str(interpreter), "-m", "pip", "uninstall", "-y", "-q", *ADDED_BY_CELLS], check=True, capture_output=True
    )
    nb = json.loads(path.read_text(encoding="utf-8"))
    part = nbformat.from_dict(colab_notebook(nb, path.stem, wheel.as_uri()))
    monkeypatch.delenv("PYTHONPATH", raising=False)  # nothing of this environment may leak in
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_path))  # where the kernelspec "colab-like" lies
    client = nbclient.NotebookClient(
        part, kernel_name="colab-like", timeout=600, resources={"metadata": {"path": str(path.parent)}}
    )
    started = time.perf_counter()
    client.execute()
    print(f"{path.stem}: {len(part.cells)} cells in {time.perf_counter() - started:.0f} s")

    install = _outputs_text(part.cells[0])
    assert "Installing course-utils @ file:" in install, install
    if "keras_tuner" in "".join(str(c.source) for c in part.cells):
        assert "keras-tuner>=" in install, install
    assert any("Training on " in _outputs_text(c) for c in part.cells), "the device report is missing"
