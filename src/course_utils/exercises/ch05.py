"""Visible checks for chapter 5, "Putting it all together" (public, simple cases only)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checking import numpy_only
from . import Question, Verdict, as_array, call, diagnose, fail, validate_answers, visible_check
from ._expected_ch05 import EXPECTED

QUIZ = (
    Question("q1", ("A", "B", "C", "D")),
    Question("q2"),
    Question("q3", ("A", "B", "C", "D")),
    Question("q4", ("A", "B", "C", "D")),
    Question("q5", ("A", "B", "C", "D")),
    Question("q6", ("A", "B", "C", "D")),
)


# --- ch05.tta -----------------------------------------------------------------------------------


def linear_logits_model(seed: int, side: int = 28) -> Any:
    """A fixed random linear model with dropout, for images of shape (side, side, 1); outputs logits (public)."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((side, side, 1)),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10),
        ]
    )
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.normal(0, 0.3, (side * side, 10)).astype("float32"), rng.normal(0, 0.1, 10).astype("float32")]
    )
    return model


TTA_SHIFTS = ([(0, 0)], [(0, 0), (2, 0), (0, -3)], [(1, 2), (-2, -1)])


def tta_inputs() -> tuple[np.ndarray, Any]:
    """The public images and model of the TTA check."""
    return np.random.default_rng(50).uniform(0, 1, (6, 28, 28, 1)).astype("float32"), linear_logits_model(51)


@visible_check("ch05.tta")
def check_tta(tta_predict: Any) -> Verdict:
    """Six random images through a random linear model, three sets of shifts, against pad-and-crop."""
    images, model = tta_inputs()
    images_copy = images.copy()
    for shifts, exp in zip(TTA_SHIFTS, EXPECTED["tta"]):
        got = as_array(call(tta_predict, model, images, list(shifts), what="tta_predict"), "tta_predict's result")
        if not np.array_equal(images, images_copy):
            fail("tta_predict changed the caller's images; shift copies of them.")
        expected = np.array(exp["expected"])
        if got.shape != expected.shape:
            fail(f"tta_predict should return one row of 10 probabilities per image {expected.shape}, got {got.shape}.")
        if diagnose(got, expected, rtol=1e-4, atol=1e-5) is None:
            continue
        where = f"With shifts={list(shifts)}"
        if not np.allclose(got.sum(axis=-1), 1, atol=1e-4):
            fail(f"{where}, your rows do not sum to 1: the model outputs logits; turn them into probabilities.")
        hints = {
            "np.roll": "pixels pushed off one edge come back at the other (np.roll?); the new pixels must be 0.",
            "swapped": "dx and dy are swapped: dx moves the content along the columns (to the right), dy down.",
            "reversed": "the shift goes the wrong way: (1, 0) moves the content one pixel to the right.",
        }
        for name, hint in hints.items():
            if np.allclose(got, exp[name], rtol=1e-4, atol=1e-5):
                fail(f"{where}, {hint}")
        if np.allclose(got, exp["softmax_of_mean_logits"], rtol=1e-4, atol=1e-5):
            fail(f"{where}, you average the logits, then take the softmax: average the probabilities instead.")
        if np.allclose(got, np.round(got * len(shifts)) / len(shifts), atol=1e-6):
            fail(f"{where}, your result looks like votes: average the copies' probabilities, not their labels.")
        fail(
            f"{where}, the averaged probabilities differ from the expected ones (largest difference "
            f"{float(np.max(np.abs(got - expected))):.3g}). Is the model run in inference mode, on every shifted copy?"
        )
    return Verdict(True, "Shifts with zero fill, softmax per copy, average: matches on three sets of shifts.")


# --- ch05.cutout --------------------------------------------------------------------------------


def cutout_problem(
    images: np.ndarray, out: np.ndarray, size: int, where: str = "", statistics: bool = True
) -> str | None:
    """What is wrong with a Cutout output for strictly positive images, or None (shared with the hidden check)."""
    if out.shape != images.shape:
        return f"{where}the output has shape {out.shape}, expected the shape of the images, {images.shape}."
    n, h, w = images.shape[:3]
    changed = out != images
    if changed.ndim == 4:
        if np.any(changed.any(axis=3) != changed.all(axis=3)):
            return f"{where}some channels of a pixel are cut and others not: the square covers every channel."
        changed = changed.any(axis=3)
    if np.any(out[out != images] != 0):
        return f"{where}some changed pixels are not 0: Cutout sets the square to zero."
    half = size // 2
    clipped = {"top": 0, "bottom": 0, "left": 0, "right": 0}
    boxes = set()
    for i in range(n):
        rows, cols = np.nonzero(changed[i])
        if rows.size == 0:
            return f"{where}image {i} has no square cut out: every image gets exactly one square."
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        if rows.size != (r1 - r0) * (c1 - c0):
            return f"{where}the pixels cut from image {i} do not form one filled rectangle."
        for lo, hi, side in ((r0, r1, h), (c0, c1, w)):
            centres = [c for c in range(side) if max(0, c - half) == lo and min(side, c - half + size) == hi]
            if not centres:
                if hi - lo > size:
                    return f"{where}a square of image {i} is larger than size x size: count its pixels."
                if hi - lo < size and 0 < lo and hi < side:
                    return f"{where}a square of image {i} is smaller than size x size but touches no border."
                return (
                    f"{where}a square of image {i} has a size or a position that no centre of the image gives: "
                    f"the square covers rows (and columns) centre - size // 2 to centre - size // 2 + size - 1, "
                    "clipped at the borders."
                )
        clipped["top"] += r0 == 0 and r1 - r0 < size
        clipped["bottom"] += r1 == h and r1 - r0 < size
        clipped["left"] += c0 == 0 and c1 - c0 < size
        clipped["right"] += c1 == w and c1 - c0 < size
        boxes.add((r0, r1, c0, c1))
    if len(boxes) == 1 and n > 1:
        return f"{where}every image gets its square at the same place: draw a centre for every image."
    if not statistics:
        return None
    expected = {"top": half / h, "bottom": (size - half - 1) / h, "left": half / w, "right": (size - half - 1) / w}
    for edge, count in clipped.items():
        p, seen = expected[edge], count / n
        if abs(seen - p) > 4.5 * math.sqrt(p * (1 - p) / n) + 0.02:
            return (
                f"{where}{seen:.0%} of the squares are clipped at the {edge} border, expected about {p:.0%}: "
                "draw the centre uniformly over every pixel of the image, so that squares near a border are clipped."
            )
    return None


@visible_check("ch05.cutout")
def check_cutout(cutout: Any) -> Verdict:
    """300 positive 16 x 16 images, size 6, then 5, then a repeat with the same seed."""
    cutout = numpy_only(cutout, "cutout")
    images = np.random.default_rng(52).uniform(0.2, 1.0, (300, 16, 16)).astype("float32")
    images_copy = images.copy()
    for size in (6, 5):
        out = as_array(call(cutout, images, size, np.random.default_rng(size), what="cutout"), "cutout's result")
        if not np.array_equal(images, images_copy):
            fail("cutout changed the caller's images; cut the squares out of a copy.")
        problem = cutout_problem(images, out, size, f"With size {size}: ")
        if problem:
            fail(problem)
    first = as_array(call(cutout, images, 4, np.random.default_rng(7), what="cutout"), "cutout's result")
    again = as_array(call(cutout, images, 4, np.random.default_rng(7), what="cutout"), "cutout's result")
    if not np.array_equal(first, again):
        fail("Two calls with generators seeded alike give different squares: draw every number from rng.")
    return Verdict(True, "One clipped square of zeros per image, centres spread over the image, reproducible.")


# --- ch05.fix-setup -----------------------------------------------------------------------------


SETUP_STEPS = (0, 10, 25, 50, 100, 275, 450, 499, 500, 600)


def setup_logits() -> tuple[np.ndarray, np.ndarray]:
    """The public labels and logits of the fix-setup check: confident and mostly right."""
    labels = np.array([0, 3, 3, 9], dtype="int32")
    logits = np.random.default_rng(53).normal(0, 3, (4, 10)).astype("float32")
    logits[np.arange(4), labels] += 4
    return labels, logits


def rate_at(optimizer: Any, step: int) -> float:
    """The learning rate an optimizer uses at a step (its iteration counter set to the step)."""
    optimizer.iterations.assign(step)
    return float(np.asarray(optimizer.learning_rate))


def loss_value(loss: Any, labels: np.ndarray, logits: np.ndarray) -> float:
    """A Keras loss (object or function) on integer labels and logits, reduced to its mean."""
    import keras

    value = keras.ops.convert_to_numpy(loss(keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(logits)))
    return float(np.mean(value))


@visible_check("ch05.fix-setup")
def check_fix_setup(make_optimizer_and_loss: Any) -> Verdict:
    """Peak 1e-3 over 5 epochs of 100 steps with 10 % warm-up; the loss on four examples."""
    result = call(make_optimizer_and_loss, 1e-3, 5, 100, 0.1, 0.1, 1e-4, what="make_optimizer_and_loss")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("make_optimizer_and_loss should return a pair (optimizer, loss).")
    optimizer, loss = result
    if type(optimizer).__name__ != "AdamW":
        fail(f"The optimizer is {type(optimizer).__name__}; the recipe uses AdamW.")
    if not math.isclose(float(optimizer.weight_decay or 0), 1e-4, rel_tol=1e-6):
        fail("The optimizer's weight_decay is not the one asked for.")
    warmup, total = 50, 500
    for step, expected in zip(SETUP_STEPS, EXPECTED["fix-setup"]["rates"]):
        got = rate_at(optimizer, step)
        if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-9):
            continue
        if got < 1e-12 and step >= warmup and step < total:
            fail(
                f"At step {step} of {total} the learning rate is already 0: the schedule counts its horizon "
                "in epochs, but Keras' schedules count optimizer steps (batches)."
            )
        if step < warmup:
            fail(
                f"During the warm-up (step {step}) the rate is {got:.3g}, expected {expected:.3g}: it should rise "
                f"linearly from 0 to the peak over the first {warmup} steps (10 % of all steps)."
            )
        fail(
            f"At step {step} the rate is {got:.3g}, expected {expected:.3g}: after the warm-up the cosine should "
            "run from the peak to 0 at the last step. Which horizon does CosineDecay's decay_steps count?"
        )
    labels, logits = setup_logits()
    expected = EXPECTED["fix-setup"]["smoothed"]
    try:
        got = loss_value(loss, labels, logits)
    except Exception as err:
        fail(f"The loss fails on integer labels of shape (4,) and logits of shape (4, 10): {type(err).__name__}.")
    if not math.isclose(got, expected, rel_tol=1e-4):
        if math.isclose(got, EXPECTED["fix-setup"]["plain"], rel_tol=1e-4):
            fail("The loss is plain cross-entropy: the label smoothing asked for is lost on the way.")
        fail(
            f"The loss is {got:.4g}, expected {expected:.4g} for these logits. Does it know that the model "
            "outputs logits, not probabilities? Does it smooth the targets as Keras' label_smoothing does?"
        )
    return Verdict(True, "AdamW with warm-up and cosine over all steps, and a smoothed loss on logits.")


# --- ch05.race-winner ---------------------------------------------------------------------------

PUBLIC_RACES: tuple[tuple[dict[str, list[list[tuple[float, float]]]], float, str | None], ...] = (
    (  # the convnet needs fewer epochs, the MLP fewer seconds
        {
            "mlp": [[(4.0, 0.96), (8.0, 0.975), (12.0, 0.981)], [(4.1, 0.958), (8.2, 0.976), (12.3, 0.98)]],
            "convnet": [[(20.0, 0.985), (40.0, 0.99)], [(21.0, 0.984), (42.0, 0.989)]],
        },
        0.975,
        "mlp",
    ),
    (  # one lucky seed does not make a recipe
        {
            "a": [[(10.0, 0.990), (20.0, 0.995)], [(10.0, 0.991), (20.0, 0.995)], [(10.0, 0.990), (20.0, 0.996)]],
            "b": [[(8.0, 0.995), (16.0, 0.996)], [(8.0, 0.98), (16.0, 0.99)], [(8.0, 0.985), (16.0, 0.993)]],
        },
        0.995,
        "a",
    ),
    (  # one slow seed drags a mean, not a median
        {
            "a": [[(10.0, 0.99)], [(11.0, 0.99)], [(20.0, 0.97), (40.0, 0.99)]],
            "b": [[(15.0, 0.99)], [(15.0, 0.991)], [(16.0, 0.992)]],
        },
        0.99,
        "a",
    ),
    ({"a": [[(5.0, 0.9), (10.0, 0.95)]], "b": [[(3.0, 0.8)]]}, 0.99, None),
)


@visible_check("ch05.race-winner")
def check_race_winner(race_winner: Any) -> Verdict:
    """Four public races: seconds against epochs, a lucky seed, a slow seed, nobody at the target."""
    for runs, target, expected in PUBLIC_RACES:
        got = call(race_winner, {k: [list(r) for r in v] for k, v in runs.items()}, target, what="race_winner")
        if got == expected:
            continue
        where = f"In the race {sorted(runs)} with target {target}"
        if expected is None:
            fail(f"{where} no recipe reaches the target in every run: return None, got {got!r}.")
        if got is None:
            fail(f"{where} you return None, but a recipe reaches the target in every one of its runs.")
        if not isinstance(got, str) or got not in runs:
            fail(f"{where} return a recipe's name (a key of runs) or None, got {got!r}.")
        fail(
            f"{where} you pick {got!r}, but {expected!r} gets there first in typical wall-clock time. Do you "
            "compare seconds (not epochs), and do you require every seed to reach the target?"
        )
    return Verdict(True, "Right on the four public races.")


@visible_check("ch05.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
