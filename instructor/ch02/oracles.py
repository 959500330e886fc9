"""Chapter 2's oracles: Keras computing what the visible checks expect (instructors only).

They answer the exercises, so they live here and never in the student package; the visible
checks compare with the values ``expected()`` returns for their public inputs, stored in
``course_utils/exercises/_expected_ch02.py`` by ``instructor/expected.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises import ch02 as public


def keras_huber(y_true: np.ndarray, y_pred: np.ndarray, delta: float) -> tuple[float, np.ndarray]:
    """The mean Huber loss of keras.losses.Huber and its gradient with respect to y_pred, by the tape."""
    import keras
    import tensorflow as tf

    yt = tf.constant(np.reshape(y_true, (1, -1)), dtype=tf.float64)
    yp = tf.constant(np.reshape(y_pred, (1, -1)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(yp)
        loss = keras.losses.Huber(delta=delta)(yt, yp)
    return float(loss), tape.gradient(loss, yp).numpy().reshape(np.shape(y_pred))


def keras_sparse_xent(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Keras' per-example sparse categorical cross-entropy from logits, in float64."""
    import keras

    return keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(labels, np.asarray(logits, dtype="float64"), from_logits=True)
    )


def keras_weighted_bce(y: np.ndarray, z: np.ndarray, weights: np.ndarray | None) -> float:
    """Keras' binary cross-entropy from logits with per-example weights (None: unweighted)."""
    import keras

    return float(keras.losses.BinaryCrossentropy(from_logits=True)(y, z, sample_weight=weights))


def mean_xent(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean cross-entropy of the logits divided by the temperature."""
    import keras

    return float(
        keras.ops.mean(
            keras.losses.sparse_categorical_crossentropy(labels, np.asarray(logits) / temperature, from_logits=True)
        )
    )


def expected() -> dict[str, Any]:
    """The values the visible checks compare with, for their public inputs."""
    huber = []
    for y_true, y_pred, delta in public.HUBER_CASES:
        loss, grad = keras_huber(y_true, y_pred, delta)
        huber.append({"loss": loss, "grad": grad, "loss_delta_one": keras_huber(y_true, y_pred, 1.0)[0]})
    xent = [keras_sparse_xent(z, y) for z, y in public.XENT_CASES]
    y, z, z_far = public.BCE_LABELS, public.BCE_LOGITS, public.BCE_FAR_LOGITS
    positive = y[:, 0] == 1
    bce = {
        "weighted": keras_weighted_bce(y, z, np.where(positive, 4.0, 1.0).astype("float32")),
        "swapped": keras_weighted_bce(y, z, np.where(positive, 1.0, 4.0).astype("float32")),
        "plain": keras_weighted_bce(y, z, None),
        "far": keras_weighted_bce(y, z_far, np.where(positive, 4.0, 1.0).astype("float32")),
    }
    temperature = []
    for scale, seed, _ in public.TEMPERATURE_MODELS:
        logits, labels = public.public_logits(scale, seed)
        temperature.append(
            {
                "divided": [mean_xent(logits, labels, t) for t in public.TEMPERATURE_CANDIDATES],
                "multiplied": [mean_xent(logits, labels, 1 / t) for t in public.TEMPERATURE_CANDIDATES],
            }
        )
    logits, labels = public.mixed_logits()
    mixed = [mean_xent(logits, labels, t) for t in public.MIXED_CANDIDATES]
    over_logits, over_labels = public.public_logits(3.0, 0)
    far = [mean_xent(over_logits, over_labels, t) for t in public.FAR_CANDIDATES]
    return {
        "huber-grad": huber,
        "sparse-xent": xent,
        "weighted-bce": bce,
        "temperature": temperature,
        "temperature-mixed": mixed,
        "temperature-far": far,
    }
