"""Chapter 1's oracle: the tape's gradient of softmax cross-entropy (instructors only).

It answers the exercise, so it lives here and never in the student package; the visible check
compares with the values ``expected()`` returns, stored in ``course_utils/exercises/_expected_ch01.py``
by ``instructor/expected.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises import ch01 as public


def tape_gradient(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The gradient of TensorFlow's mean sparse softmax cross-entropy with respect to the logits."""
    import tensorflow as tf

    z = tf.constant(logits, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, z))
    return tape.gradient(loss, z).numpy()


def expected() -> dict[str, Any]:
    """The values the visible check compares with; the usual mistake's value (logits for probabilities) too."""
    cases = []
    for logits, labels in public.XENT_GRAD_CASES:
        onehot = np.eye(logits.shape[1])[labels]
        cases.append({"grad": tape_gradient(logits, labels), "logits_for_probs": (logits - onehot) / len(logits)})
    return {"softmax-xent-grad": cases}
