"""Fast checks of every chapter notebook's JSON, and of the built pages when they exist.

nbval executes the notebooks; these tests catch what execution does not: a missing Colab cell,
nbval markers visible to readers, saved error outputs, terminal control characters in saved
outputs, exercise cells without a check, and log noise or control characters in the HTML.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").glob("*.ipynb"))
CONTROL = re.compile(r"[\x08\x0d\x1b]")  # backspace, carriage return, escape


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def text_of(output: dict) -> str:
    if "text" in output:
        return "".join(output["text"])
    data = output.get("data", {})
    return "".join(data.get("text/plain", "")) + "".join(data.get("text/html", ""))


def exercises_elsewhere(nb: dict) -> str | None:
    """The chapter whose notebook holds this one's exercises, for a chapter's later part.

    A chapter split in two for the time budget (issue 16) keeps all its graded exercises in one
    notebook; the other declares ``course.exercises_in`` (e.g. "ch03" for "ch03b") and has none.
    """
    return nb["metadata"].get("course", {}).get("exercises_in")


GRADED = [p for p in NOTEBOOKS if not exercises_elsewhere(load(p))]  # notebooks with exercises


def chapter_number(path: Path) -> str:
    """The chapter a notebook belongs to, its parts together: "ch01" for ch01 and for ch01b."""
    return re.match(r"ch\d\d", load(path)["metadata"]["course"]["chapter"]).group(0)


def chapter_exercises(path: Path) -> list[str]:
    """The exercise ids of every graded part of the chapter that this notebook belongs to.

    A chapter split in two may give each part its own exercises (ch01 and ch01b, each with
    its quiz); the standard's counts (four graded exercises, three kinds) are the
    chapter's, over its parts together.
    """
    return [
        c["metadata"]["course"]["exercise"]
        for p in GRADED
        if chapter_number(p) == chapter_number(path)
        for c in load(p)["cells"]
        if "exercise" in c["metadata"].get("course", {})
    ]


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks in book/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_metadata_and_first_cells(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    chapter = nb["metadata"].get("course", {}).get("chapter")
    assert chapter and path.name.startswith(chapter), f"metadata course.chapter {chapter!r} vs {path.name}"
    first_md = nb["cells"][0]
    assert first_md["cell_type"] == "markdown" and "".join(first_md["source"]).startswith("# ")
    cells = code_cells(nb)
    colab, setup = cells[0], cells[1]
    assert "colab-install" in colab["metadata"].get("tags", []), "first code cell must be the Colab install cell"
    assert "remove-cell" in colab["metadata"].get("tags", [])
    assert "setup(" in "".join(setup["source"]), "second code cell must call course_utils.runtime.setup"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_reader_visible_markers_errors_or_control_characters(path):
    for i, cell in enumerate(code_cells(load(path))):
        source = "".join(cell["source"])
        assert "# NBVAL" not in source.upper(), f"cell {i}: use nbval cell tags, not comments"
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"cell {i} has a saved error output"
            assert not CONTROL.search(text_of(out)), f"cell {i}: control characters in a saved output"
            if out.get("name") == "stderr":
                tags = cell["metadata"].get("tags", [])
                assert "remove-stderr" in tags, f"cell {i} saved stderr output without a remove-stderr tag"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_follow_the_format(path):
    nb = load(path)
    chapter = nb["metadata"]["course"]["chapter"]
    cells = nb["cells"]
    if elsewhere := exercises_elsewhere(nb):
        assert chapter.startswith(elsewhere) and chapter != elsewhere, (
            f"{path.name}: exercises_in {elsewhere!r} must name the first part of chapter {chapter!r}"
        )
        marked = [c["metadata"]["course"] for c in cells if c["metadata"].get("course")]
        assert not marked, f"{path.name} keeps its exercises in {elsewhere}: no exercise cells here"
        return
    starts = [i for i, c in enumerate(cells) if c["metadata"].get("course", {}).get("grading") == "start"]
    assert len(starts) == 1, "exactly one '## Exercises' cell must carry course.grading = start"
    exercises = [c["metadata"]["course"]["exercise"] for c in cells if "exercise" in c["metadata"].get("course", {})]
    assert len(set(exercises)) == len(exercises), "duplicate exercise ids"
    assert exercises and any("quiz" not in e for e in exercises), "a part with exercises needs a graded one"
    assert sum(1 for e in chapter_exercises(path) if "quiz" not in e) >= 4, (
        "a chapter needs at least four graded exercises (over its parts)"
    )
    assert any("quiz" in e for e in exercises), "every part with exercises needs its quiz"
    for i, cell in enumerate(cells):
        ex = cell["metadata"].get("course", {}).get("exercise")
        if ex is None:
            continue
        assert ex.startswith(chapter + "."), f"exercise id {ex} does not start with {chapter}."
        assert i > starts[0], f"exercise {ex} lies before the graded section"
        nxt = cells[i + 1]
        assert nxt["metadata"].get("course", {}).get("check") == ex, f"exercise {ex}: no check cell right after it"
        assert f'check("{ex}"' in "".join(nxt["source"])
        assert "remove-output" in nxt["metadata"].get("tags", []), (
            f"{ex}: the book shows the task, not the stub's red cross: tag the check cell remove-output"
        )


BOX = re.compile(
    r"^:::\{admonition\} Exercise (\d+) · (build|extend|decide|diagnose) · (\d+) points?\n"
    r":class: note exercise$",
    re.M,
)
QUIZ_BOX = re.compile(r"^:::\{admonition\} Quiz · (\d+) points?\n:class: note exercise$", re.M)
HINTS = re.compile(r"^:::\{admonition\} Hints\n:class: dropdown tip\n\n- ", re.M)


def exercise_boxes(nb: dict) -> dict[str, tuple[int, str, int]]:
    """Exercise id -> (number, kind, points) from the box in the last markdown cell before it."""
    boxes, last_md = {}, ""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            last_md = "".join(cell["source"])
        ex = cell["metadata"].get("course", {}).get("exercise")
        if ex:
            found = QUIZ_BOX.search(last_md) if ex.endswith("quiz") else BOX.search(last_md)
            assert found, f"{ex}: the markdown above its cell has no exercise box"
            boxes[ex] = (
                (0, "quiz", int(found.group(1)))
                if ex.endswith("quiz")
                else (int(found.group(1)), found.group(2), int(found.group(3)))
            )
            if not ex.endswith("quiz"):
                assert HINTS.search(last_md), f"{ex}: no collapsed Hints box"
                assert "**Check it:**" in last_md, f"{ex}: the box does not say how to check it"
    return boxes


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_are_numbered_boxes_with_kind_points_and_hints(path):
    if exercises_elsewhere(load(path)):
        pytest.skip("a chapter's later part: its exercises are in the first part")
    boxes = exercise_boxes(load(path))
    numbers = [n for n, kind, _ in boxes.values() if kind != "quiz"]
    assert numbers == list(range(1, len(numbers) + 1)), f"exercises numbered {numbers}"
    parts = [p for p in GRADED if chapter_number(p) == chapter_number(path)]
    kinds = {kind for p in parts for _, kind, _ in exercise_boxes(load(p)).values() if kind != "quiz"}
    assert len(kinds) >= 3, f"a chapter's exercises should be of at least three kinds, got {sorted(kinds)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_given_code_belongs_to_an_exercise_of_the_chapter(path):
    nb = load(path)
    exercises = {
        c["metadata"]["course"]["exercise"] for c in nb["cells"] if "exercise" in c["metadata"].get("course", {})
    }
    for cell in nb["cells"]:
        given = cell["metadata"].get("course", {}).get("given")
        if given:
            assert given in exercises and cell["cell_type"] == "code", given


def html_pages(html: Path) -> list[Path]:
    return sorted(html.rglob("*.html"))


@pytest.mark.book
@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_built_chapter_is_clean(built_book, name):
    page = next((p for p in html_pages(built_book) if p.stem == name), None)
    assert page is not None, f"{name}.html missing from the built book"
    # Cell tags become CSS classes (class="... tag_nbval-ignore-output"): invisible, so drop them.
    html = re.sub(r"tag_[\w-]+", "", page.read_text(encoding="utf-8"))
    for bad in [
        "\x1b[",
        "\x08",
        "Traceback (most recent call last)",
        "absl::",
        "cudart_stub",
        "WARNING: All log messages",
        "NBVAL",
        "nbval-ignore",
        "<Figure size",
    ]:
        assert bad not in html, f"{page.name} shows {bad!r}"
    assert "Training on " in html, "the page must say which device trained"


@pytest.mark.book
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_built_exercises_are_boxes_with_collapsed_hints_and_no_red_crosses(built_book, path):
    if exercises_elsewhere(load(path)):
        pytest.skip("a chapter's later part: its exercises are in the first part")
    page = next((p for p in html_pages(built_book) if p.stem == path.stem), None)
    assert page is not None, f"{path.stem}.html missing from the built book"
    html = page.read_text(encoding="utf-8")
    section = html[html.index('id="exercises"') :]
    # each exercise: its heading ("Exercise 1: ..."), then its box (titled by kind and points alone)
    numbered_box = r'<h3>Exercise (\d+)\b[^<]*<a class="headerlink"[^>]*>#</a></h3>\s*<div class="[^"]*\bexercise\b'
    numbers = [int(n) for n in re.findall(numbered_box, section)]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers, numbers  # four per chapter: see above
    hints = re.findall(r'<div class="[^"]*\bdropdown\b[^"]*">\s*<p class="admonition-title">Hints</p>', section)
    assert len(hints) == len(numbers), "every exercise needs a Hints box that starts collapsed (dropdown)"
    assert "\u274c [" not in section and "Not implemented yet" not in section, "the stubs' red crosses show"
    text = re.sub(r"<[^>]+>", "", section).replace("&quot;", '"')
    checks = re.findall(r'check\("ch\d\d[a-z]?\.', text)  # ch01b's checks too
    assert len(checks) == len(numbers) + 1, "the check cells themselves stay visible"


EXTERNAL = re.compile(
    r"<(?:script|img|iframe|source)\b[^>]*\bsrc=\"(?:https?:)?//[^\"]+\""
    r"|<link\b(?=[^>]*\brel=\"(?:stylesheet|icon|preload|modulepreload)\")[^>]*\bhref=\"(?:https?:)?//[^\"]+\"",
    re.I,
)


@pytest.mark.book
def test_built_pages_load_nothing_from_the_network(built_book):
    """A reader offline (or from disk) gets every script, style, font and image: nothing from a CDN."""
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax is not shipped with the site"
    for page in html_pages(built_book):
        html = page.read_text(encoding="utf-8")
        assert not EXTERNAL.findall(html), f"{page.name} loads {EXTERNAL.findall(html)[:3]}"
        if "math notranslate" in html:
            assert "_static/mathjax/tex-chtml.js" in html, f"{page.name} has formulas but not the local MathJax"


@pytest.mark.book
def test_bibliography_labels_are_clean(built_book):
    page = (built_book / "book" / "bibliography.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", page)
    assert "Géron" in text and "Dollár" in text
    for artefact in ("Dollar", "\\'", "{\\", "Geron22"):
        assert artefact not in text, artefact


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_alt_text(path):
    """Screen readers and failed image loads get a description, not a hashed file name."""
    for cell in load(path)["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "{glue:figure}" in source:
            alt = re.search(r"^:alt: (.+)$", source, re.M)
            assert alt and len(alt.group(1)) > 40, f"{path.name}: a figure without a descriptive :alt:"


@pytest.mark.book
def test_built_figures_have_their_alt_text(built_book):
    for page in html_pages(built_book):
        for alt in re.findall(r'<img[^>]*\balt="([^"]*)"', page.read_text(encoding="utf-8")):
            assert not alt.endswith((".png", ".svg", ".jpg")), f"{page.name}: an image whose alt text is its file name"


# characters of code or printed output: book/_static/course.css sizes the text column and the code
# font so that 88 fit at every width from 1024 px (93 at 1200 px, the narrowest case), and the
# browser test (tests/test_browser.py) fails on any block wider than the column.
COLUMN = 88


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_and_printed_output_fit_the_text_column(path):
    """A wider line makes the reader scroll sideways inside a code box (issue 18)."""
    too_wide = []
    for i, cell in enumerate(code_cells(load(path))):
        for line in "".join(cell["source"]).splitlines():
            if len(line) > COLUMN:
                too_wide.append(f"cell {i} code ({len(line)} chars): {line[:50]}...")
        if {"remove-output", "remove-cell"} & set(cell["metadata"].get("tags", [])):
            continue  # not on the page
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream" and out.get("name") == "stdout":
                for line in "".join(out["text"]).splitlines():
                    if len(line) > COLUMN:
                        too_wide.append(f"cell {i} output ({len(line)} chars): {line[:50]}...")
    assert not too_wide, f"{path.name}: lines wider than {COLUMN} characters:\n" + "\n".join(too_wide)
