"""Exercise sets that teach: the boxes agree with the hidden tree, the instructors' page lists every
exercise with its kind, and quizzes do not give their answers away by length or position."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import BOOK
from test_notebook_hygiene import GRADED, exercise_boxes

QUESTION = re.compile(r"^\*\*(q\d+)\.\*\*(.*?)(?=^\*\*q\d+\.\*\*|\Z)", re.S | re.M)
OPTION = re.compile(r"^- ([A-D])\. (.+?)(?=^- [A-D]\. |\Z)", re.S | re.M)


def quiz_options(path: Path) -> dict[str, dict[str, str]]:
    """Question -> {letter: option text} for the multiple-choice questions of a chapter's quiz."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = next(
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("### Quiz")
    )
    return {
        q: {letter: " ".join(option.split()) for letter, option in OPTION.findall(body)}
        for q, body in QUESTION.findall(text)
    }


def chapter_of(path: Path) -> str:
    """The notebook's chapter as its metadata names it ("ch01b" for part 2 of chapter 1)."""
    return json.loads(path.read_text(encoding="utf-8"))["metadata"]["course"]["chapter"]


def answer_key(tree, chapter: str) -> dict:
    namespace: dict = {}
    exec(tree.chapters[chapter].solutions[f"{chapter}.quiz"], namespace)
    return namespace["quiz_answers"]


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.name)
def test_boxes_show_the_points_the_grader_gives(tree, path):
    chapter = chapter_of(path)
    points = tree.chapters[chapter].points
    boxes = exercise_boxes(json.loads(path.read_text(encoding="utf-8")))
    assert {ex: pts for ex, (_, _, pts) in boxes.items()} == points


def test_instructors_page_lists_every_exercise_with_its_kind():
    page = (BOOK / "exercises_instructors.md").read_text(encoding="utf-8")
    for path in GRADED:
        for ex, (_, kind, _) in exercise_boxes(json.loads(path.read_text(encoding="utf-8"))).items():
            if kind != "quiz":
                assert re.search(rf"^\| `{re.escape(ex)}` \| \*{kind}\* \|", page, re.M), (
                    f"book/exercises_instructors.md has no row for {ex} ({kind})"
                )


@pytest.mark.parametrize("path", GRADED, ids=lambda p: p.name)
def test_quiz_options_do_not_give_the_answer_away(tree, path):
    key = answer_key(tree, chapter_of(path))
    options = quiz_options(path)
    assert set(options) == set(key), "every question of the key is in the quiz, and only those"
    choice = {q: opts for q, opts in options.items() if opts}
    assert all(isinstance(key[q], str) for q in choice) and all(
        not isinstance(key[q], str) for q in set(key) - set(choice)
    )
    for q, opts in choice.items():
        assert sorted(opts) == ["A", "B", "C", "D"], q
        lengths = {letter: len(text) for letter, text in opts.items()}
        right = lengths[key[q]]
        assert right < max(lengths.values()) or list(lengths.values()).count(right) > 1, (
            f"{q}: the right answer is the longest option"
        )
        assert max(lengths.values()) <= 1.25 * min(lengths.values()), f"{q}: option lengths {lengths} differ too much"
    letters = [key[q] for q in choice]
    assert len(letters) < 2 or len(set(letters)) > 1, "every right answer sits at the same letter"


def test_right_answers_are_spread_over_the_letters(tree):
    letters = [a for path in GRADED for a in answer_key(tree, chapter_of(path)).values() if isinstance(a, str)]
    assert len(set(letters)) >= min(3, len(letters)), letters


def test_no_two_quizzes_put_their_right_answers_at_the_same_letters(tree):
    """A reader of one chapter's key must not be able to answer another's by position (issue 25)."""
    sequences = {}
    for path in GRADED:
        key = answer_key(tree, chapter_of(path))
        sequences[chapter_of(path)] = tuple(a for _, a in sorted(key.items()) if isinstance(a, str))
    long_ones = [s for s in sequences.values() if len(s) >= 3]
    assert len(set(long_ones)) == len(long_ones), sequences
    letters = [a for s in sequences.values() for a in s]
    assert all(letters.count(letter) >= 2 for letter in "ABCD"), sequences
