"""The visible checks' stored expected values match what the instructors' oracles compute now.

The values live in the package (``course_utils/exercises/_expected_chNN.py``) because the oracles
that compute them would answer the exercises; this test recomputes them from
``instructor/chNN/oracles.py`` and fails when they drift (an edited public input, a Keras upgrade).
Regenerate with ``python instructor/expected.py chNN``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np
import pytest

from conftest import INSTRUCTOR

CHAPTERS = sorted(p.parent.name for p in INSTRUCTOR.glob("ch*/oracles.py")) if INSTRUCTOR.is_dir() else []

pytest.importorskip("keras")


def recomputed(chapter: str) -> Any:
    """What instructor/expected.py would store for a chapter today."""
    spec = importlib.util.spec_from_file_location("_course_expected_tool", INSTRUCTOR / "expected.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool.compute(chapter)


def same(stored: Any, fresh: Any, where: str = "") -> list[str]:
    """Where two nested values differ (numbers within a relative 1e-6), as readable paths."""
    if isinstance(fresh, dict):
        if not isinstance(stored, dict) or set(stored) != set(fresh):
            return [f"{where}: keys differ"]
        return [d for k in fresh for d in same(stored[k], fresh[k], f"{where}/{k}")]
    if isinstance(fresh, list) and fresh and isinstance(fresh[0], (dict, list)):
        if not isinstance(stored, list) or len(stored) != len(fresh):
            return [f"{where}: lengths differ"]
        return [d for i, (s, f) in enumerate(zip(stored, fresh)) for d in same(s, f, f"{where}[{i}]")]
    ok = np.allclose(np.asarray(stored, dtype=float), np.asarray(fresh, dtype=float), rtol=1e-6, atol=1e-9)
    return [] if ok else [f"{where}: stored {str(stored)[:40]} != computed {str(fresh)[:40]}"]


def test_every_chapter_with_visible_checks_has_its_oracles():
    assert CHAPTERS == ["ch00", "ch01", "ch02", "ch03", "ch04", "ch05"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_stored_expected_values_match_the_oracles(chapter):
    stored = importlib.import_module(f"course_utils.exercises._expected_{chapter}").EXPECTED
    assert same(stored, recomputed(chapter)) == []


def test_the_comparison_notices_a_drift():
    assert same({"a": [[1.0, 2.0]]}, {"a": [[1.0, 2.0 + 1e-3]]}) == [
        "/a[0]: stored [1.0, 2.0] != computed [1.0, 2.001]"
    ]
