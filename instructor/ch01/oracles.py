"""Chapter 1's oracle: the tape's gradient of softmax cross-entropy (instructors only).

It answers the exercise, so it lives here and never in the student package; the visible check
compares with the values ``expected()`` returns, stored in ``course_utils/exercises/_expected_ch01.py``
by ``instructor/expected.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises import ch01 as public


def tape_gradient(logits: np.ndarray, labels: np.ndarray, smoothing: float) -> np.ndarray:
    """The tape's gradient of TensorFlow's mean softmax cross-entropy against label-smoothed targets."""
    import tensorflow as tf

    classes = logits.shape[1]
    targets = (1.0 - smoothing) * np.eye(classes)[labels] + smoothing / classes
    z = tf.constant(logits, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(tf.constant(targets), z))
    return tape.gradient(loss, z).numpy()


def expected() -> dict[str, Any]:
    """The values the visible check compares with; the usual mistakes' values too.

    The mistakes: the logits where the probabilities belong, and the smoothing added to every class
    instead of spread over them (``smoothing`` rather than ``smoothing / c``).
    """
    cases = []
    for logits, labels, smoothing in public.XENT_GRAD_CASES:
        n, classes = logits.shape
        onehot = np.eye(classes)[labels]
        target = (1.0 - smoothing) * onehot + smoothing / classes
        grad = tape_gradient(logits, labels, smoothing)
        cases.append(
            {
                "grad": grad,
                "logits_for_probs": (logits - target) / n,
                "smoothing_not_spread": grad + (smoothing / classes - smoothing) / n,
            }
        )
    return {"softmax-xent-grad": cases}
