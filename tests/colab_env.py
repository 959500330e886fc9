"""A Colab-like environment for the chapters: Python 3.12, the newest TensorFlow and Keras, and only
the packages listed in ``.ci/colab-requirements.txt`` (what Colab ships). No course helper, no
book-building package: each chapter's own install cell must bring what it needs, as in Colab.

Used by ``tests/test_colab.py``. The environment lives in ``.colab-venv`` (ignored by git) and is
rebuilt when the list changes. Each run starts by removing what install cells add, so that the first
chapter's cell really installs the helpers from the working tree.
"""

from __future__ import annotations

import ast
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / ".ci" / "colab-requirements.txt"
VENV = ROOT / ".colab-venv"
PYTHON_VERSION = "3.12"

# What an install cell may add (uninstalled before a run, so the cells are exercised for real).
ADDED_BY_CELLS = ("course-utils", "keras-tuner", "kt-legacy")

# Names a chapter calls to train. A function the notebook defines that calls one of them trains too.
TRAINING_CALLS = {"fit", "train_curves", "run_seeds", "train_loop", "race", "over_seeds"}

# Where the first training cell is too long for CI, a line run just before it shortens it (and only
# it); the Colab-like check proves that the cell runs, not how far it gets.
SHORTEN = {
    "ch05_capstone": "import dataclasses\nrecipe = dataclasses.replace(recipe, epochs=1)",
}


def find_python() -> str | None:
    """A Python 3.12 interpreter: $COLAB_PYTHON, python3.12 on PATH, or one that pyenv installed."""
    candidates = [os.environ.get("COLAB_PYTHON", ""), shutil.which(f"python{PYTHON_VERSION}") or ""]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{PYTHON_VERSION}.*/bin/python3")))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == PYTHON_VERSION:
            return candidate
    return None


def _stamp() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def build(python: str, log) -> Path:
    """The environment's interpreter, creating or refreshing ``.colab-venv`` as needed."""
    stamp = VENV / ".colab-stamp"
    interpreter = VENV / "bin" / "python"
    if not (stamp.is_file() and stamp.read_text() == _stamp() and interpreter.is_file()):
        shutil.rmtree(VENV, ignore_errors=True)
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(interpreter), "-m", "pip", "install", "--upgrade", "-r", str(REQUIREMENTS)],
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stamp.write_text(_stamp())
    subprocess.run(
        [str(interpreter), "-m", "pip", "uninstall", "-y", *ADDED_BY_CELLS],
        check=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return interpreter


def installed(interpreter: Path) -> dict[str, str]:
    """{distribution: version} of the environment."""
    out = subprocess.run(
        [str(interpreter), "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    return {row["name"].lower(): row["version"] for row in json.loads(out.stdout)}


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _parse(source: str) -> ast.Module:
    lines = [
        line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
        for line in source.splitlines()
    ]
    return ast.parse("\n".join(lines))


def _called(node: ast.AST) -> set[str]:
    """Names of what a piece of code calls (``fit`` for ``model.fit(...)``)."""
    names = set()
    for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
        if isinstance(call.func, ast.Attribute):
            names.add(call.func.attr)
        elif isinstance(call.func, ast.Name):
            names.add(call.func.id)
    return names


def first_training_cell(cells: list[dict[str, Any]]) -> int:
    """Index (in ``cells``) of the first code cell that trains at its top level.

    A cell that only defines a training function does not count; the cell that calls it does.
    """
    trainers = set(TRAINING_CALLS)
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        tree = _parse(_source(cell))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _called(node) & trainers:
                trainers.add(node.name)
        top = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if any(_called(n) & trainers for n in top):
            return index
    raise ValueError("no cell trains a model")


def colab_notebook(nb: dict[str, Any], stem: str, install_from: str) -> dict[str, Any]:
    """The part of a chapter the check runs: every cell up to its first training cell (a chapter
    that trains no model, such as part 1 of chapter 1, runs whole: it is quick), with the install
    cell pointed at ``install_from`` instead of the release on GitHub."""
    cells = [dict(c) for c in nb["cells"]]
    try:
        end = first_training_cell(cells)
    except ValueError:  # no cell trains a model
        end = len(cells) - 1
    kept = [c for c in cells[: end + 1] if c.get("cell_type") == "code"]
    install = next(i for i, c in enumerate(kept) if "colab-install" in c.get("metadata", {}).get("tags", []))
    pinned = r"course-utils @ git\+\S+?@v[\w.]+"
    source, count = re.subn(pinned, f"course-utils @ {install_from}", _source(kept[install]))
    if count != 1:
        raise ValueError(f"{stem}: the install cell does not pin course-utils at a release tag")
    kept[install] = {**kept[install], "source": source}
    if stem in SHORTEN:
        kept.insert(len(kept) - 1, {"cell_type": "code", "metadata": {}, "source": SHORTEN[stem], "outputs": []})
    for cell in kept:
        cell["source"], cell["outputs"], cell["execution_count"] = _source(cell), [], None
    return {**nb, "cells": kept}


def kernel_spec_dir(interpreter: Path, where: Path) -> Path:
    """A folder for JUPYTER_PATH whose kernelspec ``colab-like`` runs the environment's Python (no
    global Jupyter configuration touched)."""
    spec = where / "kernels" / "colab-like"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [str(interpreter), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Colab-like", "language": "python"}))
    return where


if __name__ == "__main__":  # pragma: no cover - a manual run: build the environment, list it
    python = find_python()
    if python is None:
        sys.exit(f"no Python {PYTHON_VERSION} found (set COLAB_PYTHON)")
    print(installed(build(python, sys.stdout)))
