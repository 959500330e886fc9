"""Planning: which notebooks to grade, and which of their cells to run (pure, no kernel)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from course_utils.grading.hidden import InstructorTree
from course_utils.grading.types import GraderError, Plan, Submission

MAX_KEY = 80  # characters of a student key: feedback/<key>.html must fit a file name (255 bytes)


def _slug(name: str) -> str:
    """A file-name-safe student key, short enough for any file system.

    A long name is cut and given a digest of the whole, so that two long names that share their
    beginning stay two students.
    """
    slug = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name).strip("._") or "student"
    if len(slug) > MAX_KEY:
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:10]
        slug = f"{slug[: MAX_KEY - 11]}-{digest}"
    return slug


def find_submissions(target: Path) -> list[Submission]:
    """Notebooks to grade: one file, or every .ipynb under a folder (folder name = student)."""
    target = Path(target)
    if target.is_file():
        paths, root = [target], target.parent
    elif target.is_dir():
        root = target
        paths = sorted(
            p
            for p in target.rglob("*.ipynb")
            if ".ipynb_checkpoints" not in p.parts and not any(s.startswith(".") for s in p.relative_to(target).parts)
        )
    else:
        raise GraderError(f"submissions not found: {target}")
    subs, seen = [], set()
    for path in paths:
        rel = path.relative_to(root)
        base = _slug(rel.parts[0] if len(rel.parts) > 1 else path.stem)
        key, n = base, 1
        while key in seen:
            n += 1
            key = f"{base}-{n}"
        seen.add(key)
        subs.append(Submission(key, path))
    return subs


def _course_meta(cell_or_nb: Any) -> dict[str, Any]:
    """The 'course' metadata dict of a cell or notebook ({} if absent or malformed)."""
    meta = cell_or_nb.get("metadata", {}) if isinstance(cell_or_nb, Mapping) else {}
    course = meta.get("course", {}) if isinstance(meta, Mapping) else {}
    return course if isinstance(course, Mapping) else {}


def cell_source(cell: Mapping[str, Any]) -> str:
    """A cell's source as one string."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def plan_submission(raw: bytes, tree: InstructorTree, expected: str | None) -> Plan:
    """Parse a submission and choose the cells to run; never raises.

    Any JSON is accepted: nesting too deep to parse, numbers too large to convert and metadata of
    the wrong type become a fatal note or are ignored, never an exception.
    """
    try:
        return _plan(raw, tree, expected)
    except RecursionError:
        return Plan(None, fatal="The file is nested too deeply to be read as a notebook.")
    except Exception as err:  # anything a hand-edited or hostile file can trigger
        return Plan(None, fatal=f"The file could not be read as a notebook ({type(err).__name__}: {str(err)[:120]}).")


def _plan(raw: bytes, tree: InstructorTree, expected: str | None) -> Plan:
    try:
        nb = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as err:  # ValueError: invalid JSON, or an integer of 4,300+ digits
        return Plan(None, fatal=f"The file is not a valid notebook (invalid JSON: {str(err)[:120]}).")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return Plan(None, fatal="The file is not a notebook (no list of cells).")
    cells = [c for c in nb["cells"] if isinstance(c, dict)]
    if not cells:
        return Plan(None, fatal="The notebook is empty.")
    ids = [_course_meta(c).get("exercise") for c in cells]
    ids = [i for i in ids if isinstance(i, str)]
    chapter = _course_meta(nb).get("chapter")
    if not isinstance(chapter, str) and ids:
        chapter = ids[0].split(".", 1)[0]
    if expected is not None and chapter != expected:
        found = f"a {chapter} notebook" if isinstance(chapter, str) else "not a course notebook"
        return Plan(None, fatal=f"This is {found}, but {expected} was expected: submit the {expected} notebook.")
    if not isinstance(chapter, str) or chapter not in tree.chapters:
        return Plan(None, fatal=f"No hidden checks for chapter {chapter!r}: is this a course notebook?")
    plan = Plan(chapter)
    starts = [i for i, c in enumerate(cells) if _course_meta(c).get("grading") == "start"]
    if not starts:
        plan.notes.append("The '## Exercises' marker cell is missing: the whole notebook was run.")
    first = starts[0] if starts else 0
    planned = [(k + 1, c) for k, c in enumerate(cells) if k >= first and c.get("cell_type") == "code"]
    plan.cells, plan.positions = [c for _, c in planned], [k for k, _ in planned]
    counts: dict[str, int] = {}
    for c in cells:
        i = _course_meta(c).get("exercise")
        if isinstance(i, str):
            counts[i] = counts.get(i, 0) + 1
    before = {i for i in (_course_meta(c).get("exercise") for c in cells[:first]) if isinstance(i, str)}
    for exercise_id in tree.chapters[chapter].ids:
        if counts.get(exercise_id, 0) == 0:
            plan.notes.append(
                f"{exercise_id}: its exercise cell is missing (deleted, or its metadata was "
                "removed); copy the cell back from a fresh copy of the chapter."
            )
        elif exercise_id in before:
            plan.notes.append(f"{exercise_id}: its cell is above the '## Exercises' section and was not run.")
        else:
            plan.present.add(exercise_id)
            if counts[exercise_id] > 1:
                plan.notes.append(
                    f"{exercise_id}: the exercise cell appears {counts[exercise_id]} times; "
                    "the notebook was run top to bottom, so the last one counts."
                )
    unknown = sorted(set(counts) - set(tree.chapters[chapter].ids))
    if unknown:
        plan.notes.append(f"Unknown exercise ids ignored: {', '.join(unknown)}.")
    return plan
