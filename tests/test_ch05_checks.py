"""The building blocks of chapter 5's checks: the shift oracle's direction, Cutout's property check
(which must name each mistake, and must not fail a correct answer by chance), the schedule oracle.
The oracles live in instructor/ch05/oracles.py; Cutout's property check is public."""

from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils.exercises.ch05 import cutout_problem
from course_utils.grading.kit import sibling

from conftest import INSTRUCTOR

if (INSTRUCTOR / "ch05" / "oracles.py").is_file():  # the oracles live in the hidden tree
    _oracles = sibling(str(INSTRUCTOR / "ch05" / "checks.py"), "oracles")
    _padded_shift, _schedule_oracle, _smoothed_xent = _oracles.padded_shift, _oracles.schedule, _oracles.smoothed_xent
else:
    pytest.skip("no instructor tree", allow_module_level=True)


def test_the_shift_oracle_moves_content_right_and_down_with_zeros_coming_in():
    image = np.zeros((1, 5, 5, 1))
    image[0, 2, 2, 0] = 1.0
    right = _padded_shift(image, 1, 0)
    assert right[0, 2, 3, 0] == 1.0 and right.sum() == 1.0
    up_left = _padded_shift(image, -2, -1)
    assert up_left[0, 1, 0, 0] == 1.0 and up_left.sum() == 1.0
    gone = _padded_shift(image, 3, 0)  # pushed over the right edge: lost, not wrapped
    assert gone.sum() == 0.0 and gone.shape == image.shape


def _reference_cutout():
    namespace: dict = {"np": np}
    from course_utils.grading.hidden import load_chapter

    exec(load_chapter(INSTRUCTOR / "ch05").solutions["ch05.cutout"], namespace)
    return namespace["cutout"]


@pytest.mark.skipif(not (INSTRUCTOR / "ch05").is_dir(), reason="no instructor tree")
def test_cutout_property_check_passes_the_reference_on_many_seeds():
    """4.5 standard deviations per border: forty seeds and three shapes never fail a correct answer."""
    cutout = _reference_cutout()
    for seed in range(40):
        for shape, size in (((300, 16, 16), 6), ((150, 12, 12, 3), 5), ((200, 10, 10), 1)):
            images = np.random.default_rng(seed).uniform(0.2, 1.0, shape)
            out = cutout(images, size, np.random.default_rng(seed + 1000))
            assert cutout_problem(images, out, size) is None, (seed, shape, size)


def test_cutout_property_check_names_each_mistake():
    images = np.ones((200, 10, 10))
    rng = np.random.default_rng(0)

    def cut(boxes, value=0.0):
        out = images.copy()
        for i, (r0, r1, c0, c1) in enumerate(boxes):
            out[i, r0:r1, c0:c1] = value
        return out

    inside = [(r, r + 4, c, c + 4) for r, c in rng.integers(0, 7, (200, 2))]
    assert "clipped at the top border" in cutout_problem(images, cut(inside), 4)
    assert "not 0" in cutout_problem(images, cut(inside, 0.5), 4)
    assert "same place" in cutout_problem(images, cut([(2, 6, 2, 6)] * 200), 4)
    assert "larger than size" in cutout_problem(images, cut([(2, 7, 2, 7)] * 200), 4)
    assert "no square" in cutout_problem(images, cut(inside[:199]), 4)
    holes = cut(inside)
    holes[0, inside[0][0], inside[0][2]] = 1.0  # one pixel of the square left standing
    assert "one filled rectangle" in cutout_problem(images, holes, 4)
    assert "shape" in cutout_problem(images, images[:, :5], 4)


def test_schedule_and_smoothed_loss_oracles():
    assert _schedule_oracle(0, 1.0, 10, 110) == 0.0
    assert _schedule_oracle(5, 1.0, 10, 110) == 0.5 and _schedule_oracle(10, 1.0, 10, 110) == 1.0
    assert math.isclose(_schedule_oracle(60, 1.0, 10, 110), 0.5) and _schedule_oracle(110, 1.0, 10, 110) < 1e-12
    logits = np.array([[2.0, 0.0, -1.0]])
    plain = -np.log(np.exp(2.0) / np.exp(logits).sum())
    assert math.isclose(_smoothed_xent(np.array([0]), logits, 0.0), plain)
    uniform = -np.mean(logits - np.log(np.exp(logits).sum()))
    assert math.isclose(_smoothed_xent(np.array([0]), logits, 1.0), uniform)
