"""Nothing a student receives contains a reference solution, a quiz key or a quiz explanation.

Scanned: the notebooks and pages in book/, the installed course_utils package, and the built
site in _build/html. Code is compared by structure (see leak_scan), so a renamed, re-commented
or reformatted copy of a solution is found too; the self-tests below prove it.
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest

import course_utils

from conftest import BOOK, INSTRUCTOR
from leak_scan import Marker, canonical, files_under, fingerprints, pieces, scan, solution_markers

pytestmark = pytest.mark.skipif(not INSTRUCTOR.is_dir(), reason="no instructor tree in this checkout")


def given_code() -> dict[str, list[str]]:
    """Exercise id -> what the book hands out for it: the stub and any cell tagged as given."""
    given: dict[str, list[str]] = {}
    for path in BOOK.glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            course = cell.get("metadata", {}).get("course", {})
            exercise_id = course.get("exercise") or course.get("given")
            if exercise_id:
                given.setdefault(exercise_id, []).append("".join(cell["source"]))
    return given


def secrets(tree) -> tuple[list[Marker], list[tuple[str, list[re.Pattern[str]]]], list[Marker]]:
    """Solution pieces, quiz-key patterns and quiz explanations of the whole hidden tree."""
    given, markers, quizzes, texts = given_code(), [], [], []
    for chapter in tree.chapters.values():
        for exercise_id, sources in chapter.taught.items():
            given.setdefault(exercise_id, []).extend(sources)
        for exercise_id in chapter.ids:
            if exercise_id.endswith("quiz"):
                namespace: dict = {}
                exec(chapter.solutions[exercise_id], namespace)
                quizzes.append(
                    (
                        exercise_id,
                        [
                            re.compile(rf"""['"]{re.escape(q)}['"]\s*:\s*['"]?{re.escape(str(a))}['"]?(?![\w.])""")
                            for q, a in namespace["quiz_answers"].items()
                        ],
                    )
                )
                texts += [
                    Marker(f"{exercise_id}: explanation of {q}", text)
                    for q, text in getattr(chapter.judges[exercise_id], "explanations", {}).items()
                ]
                continue
            markers += solution_markers(exercise_id, chapter.solutions[exercise_id], given.get(exercise_id, []))
            for name, source in chapter.wrong[exercise_id]:  # whole wrong answers are secret too
                markers += [
                    m
                    for m in solution_markers(
                        f"{exercise_id} wrong answer '{name}'", source, given.get(exercise_id, [])
                    )
                    if ": function" in m.what
                ]
    return markers, quizzes, texts


def scan_tree(tree, files) -> list[str]:
    return scan(files, *secrets(tree))


# --- the scan finds what it must ---------------------------------------------------------------

GD_STEP_SOLUTION = "def gd_step(x, grad, lr):\n    return x - lr * grad\n"  # chapter 1's first edition


def test_the_scan_would_have_caught_the_first_editions_gd_step():
    """The published gd_step cell of chapter 1's first edition was its exercise's reference solution."""
    book_cell = '''def gd_step(x, grad, lr):
    """One gradient-descent step."""
    return x - lr * grad
'''
    markers = solution_markers("ch01.gd-step", GD_STEP_SOLUTION)
    assert markers and set(fingerprints(book_cell)) & {m.form for m in markers}


def test_the_scan_finds_a_renamed_recommented_reformatted_copy(tree, tmp_path):
    chapter = tree.chapters["ch00"]
    solution = chapter.solutions["ch00.early-stopping"]
    disguised = (
        solution.replace("early_stopping", "when_to_stop")
        .replace("best_epoch", "keep")
        .replace("lowest", "record")
        .replace("stale", "n_bad")
        .replace("value", "v")
        .replace("):\n", "):  # my own work\n", 1)
    )
    disguised = disguised.replace(
        "def when_to_stop(val_losses, patience, min_delta=0.0):",
        'def when_to_stop(val_losses, patience,\n                 min_delta=0.0):\n'
        '    """Written from scratch, honestly."""',
    )
    assert disguised != solution and "early_stopping" not in disguised
    (tmp_path / "copy.ipynb").write_text(
        json.dumps({"cells": [{"cell_type": "code", "source": disguised, "metadata": {}, "outputs": []}]})
    )
    (tmp_path / "page.html").write_text("<pre>" + html.escape(disguised) + "</pre>")
    (tmp_path / "clean.py").write_text("def early_stopping(losses):\n    return len(losses), 1\n")
    leaks = scan_tree(tree, files_under(tmp_path))
    assert any("copy.ipynb" in leak and "ch00.early-stopping" in leak for leak in leaks), leaks
    assert any("page.html" in leak and "ch00.early-stopping" in leak for leak in leaks), leaks
    assert not any("clean.py" in leak for leak in leaks), leaks


def test_the_scan_finds_one_expression_of_a_solution(tree, tmp_path):
    """A large expression copied out of a solution into other code is found too."""
    (tmp_path / "a.py").write_text(
        "def helper(p, d):\n    return p * (d - (d * p).sum(axis=1, keepdims=True))  # times the Jacobian\n"
    )
    leaks = scan_tree(tree, files_under(tmp_path))
    assert any("ch01.brier-grad" in leak for leak in leaks), leaks


def test_the_scan_finds_quiz_keys_and_explanations(tree, tmp_path):
    chapter = tree.chapters["ch01"]
    (tmp_path / "b.md").write_text(chapter.solutions["ch01.quiz"])
    explanation = chapter.judges["ch01.quiz"].explanations["q3"]
    (tmp_path / "c.html").write_text("<p>" + html.escape(explanation.replace(" ", "\n ")) + "</p>")
    leaks = scan_tree(tree, files_under(tmp_path))
    assert any("b.md" in leak and "answers of ch01.quiz" in leak for leak in leaks), leaks
    assert any("c.html" in leak and "explanation of q3" in leak for leak in leaks), leaks


def test_given_code_is_not_a_leak(tree):
    """The buggy code of a diagnose exercise shares lines with its fix; those lines are public."""
    given = given_code()
    assert "ch01b.fix-training-loop" in given and len(given["ch01b.fix-training-loop"]) == 2
    with_given = solution_markers(
        "x", tree.chapters["ch01b"].solutions["ch01b.fix-training-loop"], given["ch01b.fix-training-loop"]
    )
    without = solution_markers("x", tree.chapters["ch01b"].solutions["ch01b.fix-training-loop"])
    assert len(with_given) < len(without)


# --- nothing leaks -----------------------------------------------------------------------------


def test_book_sources_do_not_contain_hidden_material(tree):
    assert scan_tree(tree, files_under(BOOK)) == []


def test_installed_package_does_not_contain_hidden_material(tree):
    package = Path(course_utils.__file__).resolve().parent
    assert not (package / "instructor").exists()
    assert scan_tree(tree, files_under(package)) == []


def test_hidden_tree_is_outside_the_book_and_the_package():
    package = Path(course_utils.__file__).resolve().parent
    assert INSTRUCTOR.resolve() not in package.parents and package not in INSTRUCTOR.resolve().parents
    assert not list(BOOK.rglob("checks.py")) and not list(BOOK.rglob("solutions.py"))


@pytest.mark.book
def test_published_html_does_not_contain_hidden_material(tree, built_book):
    assert scan_tree(tree, files_under(built_book)) == []


# --- no oracle in the student package ----------------------------------------------------------

# The oracles a held-out probe imported from the student package before they moved (issue 30).
FORMER_ORACLES = ("_keras_huber", "_mean_xent", "_keras_elastic_net", "_keras_restored_epoch", "_keras_sparse_xent")


def oracle_markers() -> list[Marker]:
    """Every function of the instructors' oracles (instructor/*/oracles.py), by structure."""
    markers = []
    for path in sorted(INSTRUCTOR.glob("*/oracles.py")) + [INSTRUCTOR / "oracles.py"]:
        if not path.is_file():
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name != "expected":
                for kind, piece in pieces(ast.unparse(node)):
                    markers.append(Marker(f"{path.parent.name}/oracles.py: {kind} in {node.name}", canonical(piece)))
    return markers


def package_functions() -> dict[str, object]:
    """'module.name' -> every function or class defined in any module of the installed course_utils."""
    found = {}
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == info.name:
                found[f"{info.name}.{name}"] = value
    return found


def test_no_oracle_is_in_the_installed_package_by_structure():
    package = Path(course_utils.__file__).resolve().parent
    markers = oracle_markers()
    assert len(markers) >= 10, "the oracles moved to instructor/*/oracles.py"
    assert scan(files_under(package), markers, [], []) == []


def test_no_oracle_is_importable_from_the_installed_package_by_name():
    functions = package_functions()
    oracle_names = {m.what.rsplit(" ", 1)[-1] for m in oracle_markers()}
    importable = sorted(
        qualified
        for qualified in functions
        if qualified.rsplit(".", 1)[-1].lstrip("_") in oracle_names
        or qualified.rsplit(".", 1)[-1] in FORMER_ORACLES
        or qualified.rsplit(".", 1)[-1].startswith("_keras")
    )
    assert importable == []


def test_the_oracle_scan_finds_a_renamed_oracle(tmp_path):
    source = (INSTRUCTOR / "ch02" / "oracles.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    huber = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "keras_huber")
    copied = ast.unparse(huber).replace("keras_huber", "_reference").replace("tape", "t").replace("loss", "value")
    (tmp_path / "sneaky.py").write_text("import numpy as np\n\n" + copied + "\n")
    # any oracle may be named: two oracles of the same structure (Huber and MAE by the tape) share their form
    assert scan(files_under(tmp_path), oracle_markers(), [], []) != []
