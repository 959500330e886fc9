"""Chapter 5's oracles: pad-and-crop shifts, the schedule, the smoothed loss (instructors only).

They answer the exercises, so they live here and never in the student package; the visible
checks compare with the values ``expected()`` returns for their public inputs (the usual mistakes'
values too), stored in ``course_utils/exercises/_expected_ch05.py`` by ``instructor/expected.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.exercises import ch05 as public


def padded_shift(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Content moved dx pixels right and dy down, zeros coming in (pad, then crop)."""
    _, h, w = images.shape[:3]
    p = max(abs(dx), abs(dy), 1)
    padded = np.pad(images, [(0, 0), (p, p), (p, p)] + [(0, 0)] * (images.ndim - 3))
    return padded[:, p - dy : p - dy + h, p - dx : p - dx + w]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def tta(model: Any, images: np.ndarray, shifts: list[tuple[int, int]], move: Callable = padded_shift) -> np.ndarray:
    """Test-time augmentation: softmax of each shifted copy's logits, averaged."""
    probs = [softmax(np.asarray(model(move(images, dx, dy), training=False))) for dx, dy in shifts]
    return np.mean(probs, axis=0)


def schedule(step: int, peak: float, warmup: int, total: int) -> float:
    """Linear warm-up to the peak, then a cosine to 0 at the last step."""
    if step < warmup:
        return peak * step / warmup
    done = min(step - warmup, total - warmup) / (total - warmup)
    return 0.5 * peak * (1 + math.cos(math.pi * done))


def smoothed_xent(labels: np.ndarray, logits: np.ndarray, smoothing: float) -> float:
    """Mean cross-entropy of logits against label-smoothed targets, as Keras' label_smoothing does."""
    k = logits.shape[-1]
    targets = np.full(logits.shape, smoothing / k)
    targets[np.arange(len(labels)), labels] += 1 - smoothing
    z = logits - logits.max(axis=-1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return float(-(targets * log_probs).sum(axis=-1).mean())


def expected() -> dict[str, Any]:
    """The values the visible checks compare with, for their public inputs."""
    images, model = public.tta_inputs()
    variants: dict[str, Callable] = {
        "np.roll": lambda x, dx, dy: np.roll(x, (dy, dx), axis=(1, 2)),
        "swapped": lambda x, dx, dy: padded_shift(x, dy, dx),
        "reversed": lambda x, dx, dy: padded_shift(x, -dx, -dy),
    }
    tta_cases = []
    for shifts in public.TTA_SHIFTS:
        case = {"expected": tta(model, images, shifts)}
        case.update({name: tta(model, images, shifts, move) for name, move in variants.items()})
        logits = np.mean([np.asarray(model(padded_shift(images, dx, dy))) for dx, dy in shifts], axis=0)
        case["softmax_of_mean_logits"] = softmax(logits)
        tta_cases.append(case)
    labels, logits = public.setup_logits()
    setup = {
        "rates": [schedule(step, 1e-3, 50, 500) for step in public.SETUP_STEPS],
        "smoothed": smoothed_xent(labels, logits, 0.1),
        "plain": smoothed_xent(labels, logits, 0.0),
    }
    return {"tta": tta_cases, "fix-setup": setup}
