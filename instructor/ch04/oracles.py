"""Chapter 4's oracles: Keras computing what the visible checks expect (instructors only).

They answer the exercises, so they live here and never in the student package; the visible
checks compare with the values ``expected()`` returns for their public inputs, stored in
``course_utils/exercises/_expected_ch04.py`` by ``instructor/expected.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises import ch04 as public


def keras_activity_elastic_net(a: np.ndarray, l1: float, l2: float) -> tuple[float, np.ndarray]:
    """The activity penalty Keras adds for outputs `a` (L1L2, divided by the batch size), and its
    gradient from tf.GradientTape."""
    import keras
    import tensorflow as tf

    v = tf.Variable(a.astype("float64"))
    layer = keras.layers.ActivityRegularization(l1=l1, l2=l2, dtype="float64")
    with tf.GradientTape() as tape:
        layer(tf.identity(v))
        penalty = layer.losses[0]
    return float(penalty), tape.gradient(penalty, v).numpy()


def keras_batchnorm(
    x: np.ndarray, params: list[np.ndarray], training: bool, momentum: float, epsilon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """keras.layers.BatchNormalization with these weights: output and moving averages after the call."""
    import keras

    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    layer.build(x.shape)
    layer.set_weights([p.astype("float32") for p in params])  # gamma, beta, moving mean, moving variance
    y = layer(x.astype("float32"), training=training).numpy()
    return y, layer.moving_mean.numpy(), layer.moving_variance.numpy()


def keras_restored_epoch(
    values: list[float], patience: int, baseline: float | None, start_from_epoch: int
) -> tuple[int, int]:
    """Replay EarlyStopping on a model whose single weight records the epoch: (epochs run, weights' epoch)."""
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_accuracy",
        mode="max",
        patience=patience,
        baseline=baseline,
        start_from_epoch=start_from_epoch,
        restore_best_weights=True,
    )
    model.stop_training = False
    stopper.set_model(model)
    stopper.on_train_begin()
    epochs_run = 0
    for epoch, value in enumerate(values):
        epochs_run = epoch + 1
        model.set_weights([np.array([[float(epochs_run)]])])  # the weights "after" this epoch
        stopper.on_epoch_end(epoch, {"val_accuracy": value})
        if model.stop_training:
            break
    stopper.on_train_end()
    return epochs_run, int(round(float(model.get_weights()[0][0, 0])))


def expected() -> dict[str, Any]:
    """The values the visible checks compare with, for their public inputs (the usual mistakes' values too)."""
    elastic = []
    for a, l1, l2 in public.ELASTIC_CASES:
        penalty, grad = keras_activity_elastic_net(a, l1, l2)
        elastic.append({"penalty": penalty, "grad": grad})
    x, params = public.BATCHNORM_X, list(public.BATCHNORM_PARAMS)
    batchnorm = []
    for training, momentum, epsilon in public.BATCHNORM_SETTINGS:
        y, mean, var = keras_batchnorm(x, params, training, momentum, epsilon)
        # training: the variance divided by n - 1; inference: the batch statistics instead of the moving ones
        variance = x.var(axis=0, ddof=1 if training else 0)
        mistake = params[0] * (x - x.mean(axis=0)) / np.sqrt(variance + epsilon) + params[1]
        swapped = (1 - momentum) * params[2] + momentum * x.mean(axis=0)
        batchnorm.append({"y": y, "mean": mean, "var": var, "mistake": mistake, "swapped_mean": swapped})
    curves = [list(keras_restored_epoch(list(v), p, b, s)) for v, p, b, s in public.PUBLIC_CURVES]
    return {"elastic-net": elastic, "batchnorm": batchnorm, "restore-best": curves}
