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


def keras_dense_batchnorm(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray | None,
    params: list[np.ndarray],
    epsilon: float,
) -> np.ndarray:
    """Dense (with or without its bias) then BatchNormalization, in inference mode, in float64."""
    import keras

    dense = keras.layers.Dense(kernel.shape[1], use_bias=bias is not None, dtype="float64")
    norm = keras.layers.BatchNormalization(epsilon=epsilon, dtype="float64")
    model = keras.Sequential([keras.Input((kernel.shape[0],), dtype="float64"), dense, norm])
    dense.set_weights([kernel] if bias is None else [kernel, bias])
    norm.set_weights(list(params))  # gamma, beta, moving mean, moving variance
    return keras.ops.convert_to_numpy(model(x.astype("float64"), training=False))


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
    batchnorm = []
    for kernel, bias, gamma, beta, mean, var, epsilon in public.FOLD_CASES:
        params = [gamma, beta, mean, var]
        y = keras_dense_batchnorm(public.FOLD_X, kernel, bias, params, epsilon)
        z = public.FOLD_X @ kernel + (0.0 if bias is None else bias)
        # the usual mistakes' outputs: epsilon left out, the variance for the deviation, the bias not normalized
        mistakes = {
            "no_epsilon": gamma * (z - mean) / np.sqrt(var) + beta,
            "variance": gamma * (z - mean) / (var + epsilon) + beta,
        }
        if bias is not None:
            mistakes["bias_unscaled"] = gamma * (z - bias - mean) / np.sqrt(var + epsilon) + beta + bias
        batchnorm.append({"y": y, **mistakes})
    curves = [list(keras_restored_epoch(list(v), p, b, s)) for v, p, b, s in public.PUBLIC_CURVES]
    return {"elastic-net": elastic, "batchnorm": batchnorm, "restore-best": curves}
