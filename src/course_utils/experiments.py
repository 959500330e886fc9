"""Experiments repeated over seeds, and what may be claimed from them (chapters 2 and 4).

Two settings whose results differ by less than the seed-to-seed spread cannot be ranked. These
helpers run the same experiment for several seeds, collect its numbers, report the mean and the
spread; :mod:`course_utils.compare` then says whether the runs tell two settings apart, so a
chapter only claims a winner where the runs show one.

Why a training loop of our own (chapter 4): on a small subset of MNIST, ``model.fit`` spends most
of its time on per-epoch bookkeeping (iterators, callbacks, a separate evaluation pass), not on
the arithmetic. A table of every regularization method over several seeds needs dozens of runs,
and only fits a notebook's time budget when one epoch is one compiled function.
:func:`train_curves` does what ``fit`` does for one epoch (shuffled mini-batches in training
mode, the layers' penalties added to the loss, one optimizer step per batch), then measures the
validation data in inference mode; a unit test checks it against ``fit``.

TensorFlow and Keras are imported inside the functions that need them, never at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .runtime import import_tensorflow


def train_curves(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    epochs: int,
    batch_size: int = 100,
    optimizer: Any = None,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Train a Keras classifier with softmax outputs; per-epoch curves like ``History.history``.

    model     -- a built Keras model whose last layer outputs class probabilities
    x, y      -- training images and integer labels (shuffled anew every epoch)
    optimizer -- a Keras optimizer (default: Adam with learning rate 1e-3)
    seed      -- seeds the order of the mini-batches

    Returns ``loss`` (mean cross-entropy plus the layers' penalties over the epoch's batches, in
    training mode, as ``fit`` reports it), ``accuracy`` (the same batches), ``val_loss`` and
    ``val_accuracy`` (cross-entropy and accuracy on the validation data in inference mode,
    without penalties, so that models with different penalties compare on one scale).
    """
    tf = import_tensorflow()
    import keras

    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}.")
    opt = optimizer if optimizer is not None else keras.optimizers.Adam(1e-3)
    xent = keras.losses.SparseCategoricalCrossentropy()
    x_all, y_all = tf.constant(np.asarray(x, "float32")), tf.constant(np.asarray(y, "int32"))
    xv, yv = tf.constant(np.asarray(x_val, "float32")), tf.constant(np.asarray(y_val, "int32"))
    n = len(y)
    n_batches = -(-n // batch_size)

    def accuracy(labels: Any, probs: Any) -> Any:
        return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(probs, axis=-1, output_type=tf.int32), labels), "float32"))

    @tf.function
    def one_epoch(order: Any) -> tuple[Any, Any, Any, Any]:
        total_loss, total_acc = tf.constant(0.0), tf.constant(0.0)
        for i in tf.range(n_batches):
            rows = order[i * batch_size : (i + 1) * batch_size]
            xb, yb = tf.gather(x_all, rows), tf.gather(y_all, rows)
            with tf.GradientTape() as tape:
                probs = model(xb, training=True)
                loss = xent(yb, probs)
                if model.losses:
                    loss = loss + tf.add_n(model.losses)
            opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
            weight = tf.cast(tf.shape(rows)[0], "float32")
            total_loss += weight * loss
            total_acc += weight * accuracy(yb, probs)
        val_probs = model(xv, training=False)
        return total_loss / n, total_acc / n, xent(yv, val_probs), accuracy(yv, val_probs)

    rng = np.random.default_rng(seed)
    curves: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    for _ in range(epochs):
        values = one_epoch(tf.constant(rng.permutation(n), dtype="int32"))
        for key, value in zip(curves, values):
            curves[key].append(float(value))
    return curves


def accuracy_of(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = 2500) -> float:
    """Accuracy of a classifier on (x, y) in inference mode, in large batches (chapter 4).

    Calls the model directly rather than through ``predict``, which compiles a new function
    for every model: for the dozens of small models of a results table, that costs more
    than the predictions.
    """
    y = np.asarray(y)
    correct = 0
    for start in range(0, len(y), batch_size):
        probs = np.asarray(model(np.asarray(x[start : start + batch_size], "float32"), training=False))
        correct += int(np.sum(np.argmax(probs, axis=-1) == y[start : start + batch_size]))
    return correct / len(y)


def run_seeds(run: Callable[[int], Any], seeds: Sequence[int]) -> list[Any]:
    """``run(seed)`` for every seed, after seeding Python, NumPy and Keras with it (chapter 4).

    Seeding here, not in ``run``, guarantees that no repetition forgets it: each run's weights,
    dropout masks and augmentations are then reproducible from its seed alone.
    """
    import_tensorflow()
    import keras

    results = []
    for seed in seeds:
        keras.utils.set_random_seed(int(seed))
        results.append(run(int(seed)))
    return results


def over_seeds(run: Callable[[int], Mapping[str, Any]], seeds: Iterable[int]) -> dict[str, np.ndarray]:
    """Call run(seed) for every seed and stack each returned quantity: {name: array (seeds, ...)} (chapter 2).

    run returns a dict of numbers or equally shaped arrays (a final accuracy, a curve per epoch).
    """
    collected: dict[str, list[Any]] = {}
    seeds = list(seeds)
    if not seeds:
        raise ValueError("Give at least one seed.")
    for seed in seeds:
        result = run(seed)
        if collected and set(result) != set(collected):
            raise ValueError(f"run({seed}) returned {sorted(result)}, earlier seeds {sorted(collected)}.")
        for name, value in result.items():
            collected.setdefault(name, []).append(np.asarray(value, dtype=np.float64))
    return {name: np.stack(values) for name, values in collected.items()}


def spread_text(values: Any, digits: int = 3) -> str:
    """'mean ± std (min to max)' of per-seed results, as the prose reports them (chapter 2)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f} ({v.min():.{digits}f} to {v.max():.{digits}f})"


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and range of one setting over its seeds (chapter 4)."""

    name: str
    n: int
    mean: float
    std: float  # 0.0 for a single value
    low: float
    high: float


def summarize(results: Mapping[str, Sequence[float]]) -> list[Summary]:
    """One Summary per setting, in the order given (chapter 4)."""
    rows = []
    for name, values in results.items():
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0:
            raise ValueError(f"The setting {name!r} has no results.")
        std = float(v.std(ddof=1)) if v.size > 1 else 0.0
        rows.append(Summary(name, int(v.size), float(v.mean()), std, float(v.min()), float(v.max())))
    return rows


def format_table(rows: Sequence[Summary], percent: bool = True, label: str = "setting") -> str:
    """A plain-text table (at most 80 characters wide) of summaries, best mean first (chapter 4)."""
    scale, unit = (100.0, " %") if percent else (1.0, "")
    width = max([len(label)] + [len(r.name) for r in rows])
    if width > 40:
        raise ValueError("Setting names longer than 40 characters do not fit the text column.")
    head = f"{label:<{width}}  {'mean' + unit:>9}  {'std' + unit:>8}  {'range' + unit:>17}  seeds"
    lines = [head, "-" * len(head)]
    for r in sorted(rows, key=lambda r: -r.mean):
        span = f"{r.low * scale:.1f} - {r.high * scale:.1f}"
        lines.append(f"{r.name:<{width}}  {r.mean * scale:>9.1f}  {r.std * scale:>8.1f}  {span:>17}  {r.n:>5}")
    return "\n".join(lines)
