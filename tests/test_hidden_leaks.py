"""Nothing a student receives contains the hidden checks, the solutions or the quiz answers.

Scanned: the notebooks and pages in book/, the installed course_utils package, and the built
site in _build/html (skipped, with a reason, when the book has not been built).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

import course_utils
from course_utils import grade as g

ROOT = Path(__file__).resolve().parents[1]
INSTRUCTOR = ROOT / "instructor"
HTML = ROOT / "_build" / "html"
SUFFIXES = {".py", ".ipynb", ".md", ".html", ".txt", ".json", ".js", ".cfg", ".toml", ".yml", ".yaml", ""}


def normalize(text: str) -> str:
    """Whitespace collapsed, so reformatted copies still match."""
    return re.sub(r"\s+", " ", text).strip()


def as_text(path: Path) -> str:
    """A file's text; HTML without tags and entities (code is split into spans there)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return normalize(text)


def hidden_markers() -> list[tuple[str, str]]:
    """(what, text) that must not appear: whole sources and the distinctive lines of snippets."""
    tree = g.load_instructor_tree(INSTRUCTOR)
    markers = []
    for chapter in tree.chapters.values():
        for exercise_id in chapter.ids:
            snippet = chapter.exports[exercise_id]
            markers.append((f"{exercise_id} export snippet", normalize(snippet)))
            markers += [(f"{exercise_id} export line", normalize(line)) for line in snippet.splitlines()
                        if line.strip().startswith("_") and len(line.strip()) >= 30]
            if not exercise_id.endswith("quiz"):
                markers.append((f"{exercise_id} solution", normalize(chapter.solutions[exercise_id])))
                markers += [(f"{exercise_id} wrong answer {n}", normalize(s)) for n, s in chapter.wrong[exercise_id]]
    return markers


def quiz_keys() -> list[tuple[str, list[re.Pattern[str]]]]:
    """For each quiz, one pattern per answer ('q1': 'B'); a file leaks if all of them match."""
    tree = g.load_instructor_tree(INSTRUCTOR)
    keys = []
    for chapter in tree.chapters.values():
        for exercise_id in chapter.ids:
            if exercise_id.endswith("quiz"):
                namespace: dict = {}
                exec(chapter.solutions[exercise_id], namespace)
                patterns = [re.compile(rf"""['"]{re.escape(q)}['"]\s*:\s*['"]?{re.escape(str(a))}['"]?(?![\w.])""")
                            for q, a in namespace["quiz_answers"].items()]
                keys.append((exercise_id, patterns))
    return keys


def files_under(folder: Path) -> list[Path]:
    """Text-like files under a folder."""
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts]


def scan(files: list[Path]) -> list[str]:
    """Every leak found in the files."""
    markers, quizzes, leaks = hidden_markers(), quiz_keys(), []
    for path in files:
        text = as_text(path)
        leaks += [f"{path}: {what}" for what, marker in markers if marker and marker in text]
        leaks += [f"{path}: answers of {quiz}" for quiz, patterns in quizzes if all(p.search(text) for p in patterns)]
    return leaks


pytestmark = pytest.mark.skipif(not INSTRUCTOR.is_dir(), reason="no instructor tree in this checkout")


def test_the_scan_finds_a_planted_leak(tmp_path):
    tree = g.load_instructor_tree(INSTRUCTOR)
    chapter = next(iter(tree.chapters.values()))
    exercise_id = next(i for i in chapter.ids if not i.endswith("quiz"))
    quiz = next(i for i in chapter.ids if i.endswith("quiz"))
    (tmp_path / "a.html").write_text("<pre>" + html.escape(chapter.solutions[exercise_id]) + "</pre>")
    (tmp_path / "b.md").write_text(chapter.solutions[quiz])
    (tmp_path / "c.py").write_text("print('nothing to see')\n")
    leaks = scan(files_under(tmp_path))
    assert any("a.html" in leak and "solution" in leak for leak in leaks)
    assert any("b.md" in leak and "answers" in leak for leak in leaks)
    assert not any("c.py" in leak for leak in leaks)


def test_book_sources_do_not_contain_hidden_material():
    assert scan(files_under(ROOT / "book")) == []


def test_installed_package_does_not_contain_hidden_material():
    package = Path(course_utils.__file__).resolve().parent
    assert not (package / "instructor").exists()
    assert scan(files_under(package)) == []


def test_hidden_tree_is_outside_the_book_and_the_package():
    package = Path(course_utils.__file__).resolve().parent
    assert INSTRUCTOR.resolve() not in package.parents and package not in INSTRUCTOR.resolve().parents
    assert not list((ROOT / "book").rglob("checks.py")) and not list((ROOT / "book").rglob("solutions.py"))


def test_published_html_does_not_contain_hidden_material():
    if not HTML.is_dir():
        pytest.skip("the book has not been built (_build/html missing): run `make book` first")
    assert scan(files_under(HTML)) == []
