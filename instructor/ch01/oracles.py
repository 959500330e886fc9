"""Chapter 1's oracle: the tape's gradient of the Brier score of softmax (instructors only).

It answers the exercise, so it lives here and never in the student package; the visible check
compares with the values ``expected()`` returns, stored in ``course_utils/exercises/_expected_ch01.py``
by ``instructor/expected.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises import ch01 as public


def targets(labels: np.ndarray, classes: int, smoothing: float) -> np.ndarray:
    """The label-smoothed targets: 1 - smoothing on the label, plus smoothing / classes on every class."""
    return (1.0 - smoothing) * np.eye(classes)[labels] + smoothing / classes


def tape_gradient(logits: np.ndarray, labels: np.ndarray, smoothing: float) -> np.ndarray:
    """The tape's gradient of the mean over the batch of sum_j (softmax(z)_j - q_j)^2, in float64."""
    import tensorflow as tf

    q = tf.constant(targets(labels, logits.shape[1], smoothing))
    z = tf.constant(logits, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = tf.reduce_mean(tf.reduce_sum((tf.nn.softmax(z) - q) ** 2, axis=1))
    return tape.gradient(loss, z).numpy()


def expected() -> dict[str, Any]:
    """The values the visible check compares with; the usual mistakes' values too.

    The mistakes: the cross-entropy's gradient (p - q) / n, the gradient with respect to the
    probabilities 2 (p - q) / n, and the softmax derivative's diagonal p (1 - p) alone.
    """
    (logits, labels, smoothing), (big, big_labels, big_smoothing) = public.BRIER_GRAD_CASES
    n, classes = logits.shape
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    d = p - targets(labels, classes, smoothing)
    small = {
        "grad": tape_gradient(logits, labels, smoothing),
        "grad_unsmoothed": tape_gradient(logits, labels, 0.0),
        "xent": d / n,
        "wrt_probs": 2 * d / n,
        "diagonal_only": 2 * d * p * (1 - p) / n,
    }
    large = {"grad": tape_gradient(big, big_labels, big_smoothing)}
    logits, labels, smoothing, weights = public.brier_big_case()
    grad = tape_gradient(logits, labels, smoothing)
    stored_big = {"corner": grad[1:3, :4], "weighted_sum": float(np.sum(grad * weights))}
    return {"brier-grad": [small, large, stored_big]}
