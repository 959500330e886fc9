"""Several small networks trained at once, as one Keras model (chapter 4).

A comparison over five seeds, a sweep of penalty strengths and a grid of combined settings need
dozens of trainings of a small multilayer perceptron. On a small MNIST subset each training is
mostly overhead, so :func:`train_branches` trains them *together*: one Keras model holds K
independent branches, each a complete network with its own penalty, dropout rate, constraint,
augmentation and batch normalization, all fed the same mini-batch. The loss is the sum of the
branches' losses; since no weight is shared, each branch's gradient is the gradient of its own
loss, and Adam works weight by weight, so a branch without random layers follows exactly the
updates it would follow alone (a unit test checks this for plain, penalized, max-norm and
batch-normalized branches); a branch with dropout or augmentation draws its masks from the same
distribution as alone. What the branches of one seed share is the order of the mini-batches and,
where their architectures agree, the initial weights and the random masks (both are drawn from
the seed and the layer's name within its branch); each seed draws everything anew.

After every epoch it measures each branch in inference mode on the training and the validation
images (so a training accuracy is never measured with dropout or augmentation on), and keeps
each branch's weights from its best validation epoch under an early-stopping rule with
``patience``, as ``keras.callbacks.EarlyStopping(restore_best_weights=True)`` would.

TensorFlow and Keras are imported inside the functions that need them, never at import time.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .runtime import import_tensorflow

__all__ = ["Branch", "BranchRun", "build_branches", "stack_runs", "train_branches"]


@dataclass(frozen=True)
class Branch:
    """One network of a parallel run: a multilayer perceptron for flattened 28 x 28 digits.

    l1, l2     -- penalty strengths on every kernel (Keras' L1L2: l1 * sum|w| + l2 * sum w^2)
    dropout    -- rate of a Dropout layer after every hidden layer (0: none)
    batchnorm  -- Dense (no bias) -> BatchNormalization -> ReLU instead of Dense -> ReLU
    max_norm   -- MaxNorm constraint on the hidden kernels' columns (None: none)
    augment    -- random shifts (10 %) and rotations (4 % of a turn) in training
    hidden     -- widths of the hidden layers
    label_smoothing -- trains on targets (1 - e) * one_hot + e / 10, as Keras'
                   CategoricalCrossentropy(label_smoothing=e) does; measured curves stay plain
                   cross-entropy on the true labels
    """

    l1: float = 0.0
    l2: float = 0.0
    dropout: float = 0.0
    batchnorm: bool = False
    max_norm: float | None = None
    augment: bool = False
    hidden: tuple[int, ...] = (256, 256)
    label_smoothing: float = 0.0


@dataclass
class BranchRun:
    """One seed of :func:`train_branches`: per-branch curves, final and restored weights."""

    seed: int
    names: list[str]
    curves: dict[str, dict[str, list[float]]]  # name -> loss, accuracy, val_loss, val_accuracy
    best_epoch: dict[str, int]  # name -> 1-based epoch whose weights early stopping restores
    stopped_epoch: dict[str, int]  # name -> epoch at which early stopping would have stopped
    final_weights: dict[str, list[np.ndarray]]
    best_weights: dict[str, list[np.ndarray]]
    architectures: dict[str, Any] = field(repr=False, default_factory=dict)

    def model(self, name: str, restored: bool = False) -> Any:
        """A Keras model of branch `name` alone, with its final weights, or (restored=True) the
        weights of its best validation epoch, as early stopping restores them."""
        import keras

        model = keras.models.clone_model(self.architectures[name])
        model.set_weights(self.best_weights[name] if restored else self.final_weights[name])
        return model


def _branch_layers(branch: Branch, prefix: str, seed: int) -> list[Any]:
    import keras

    layers: list[Any] = []
    if branch.augment:
        layers += [
            keras.layers.Reshape((28, 28, 1), name=f"{prefix}_image"),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", seed=seed + 1, name=f"{prefix}_shift"),
            keras.layers.RandomRotation(0.04, fill_mode="constant", seed=seed + 2, name=f"{prefix}_rotate"),
            keras.layers.Flatten(name=f"{prefix}_flat"),
        ]
    penalty = keras.regularizers.L1L2(l1=branch.l1, l2=branch.l2) if branch.l1 or branch.l2 else None
    constraint = keras.constraints.MaxNorm(branch.max_norm) if branch.max_norm else None
    for i, units in enumerate(branch.hidden):
        init = keras.initializers.GlorotUniform(seed=seed + 10 + i)
        layers.append(
            keras.layers.Dense(
                units,
                use_bias=not branch.batchnorm,
                kernel_initializer=init,
                kernel_regularizer=penalty,
                kernel_constraint=constraint,
                name=f"{prefix}_dense{i}",
            )
        )
        if branch.batchnorm:
            layers.append(keras.layers.BatchNormalization(name=f"{prefix}_bn{i}"))
        layers.append(keras.layers.Activation("relu", name=f"{prefix}_relu{i}"))
        if branch.dropout:
            layers.append(keras.layers.Dropout(branch.dropout, seed=seed + 20 + i, name=f"{prefix}_drop{i}"))
    init = keras.initializers.GlorotUniform(seed=seed + 30)
    layers.append(keras.layers.Dense(10, kernel_initializer=init, kernel_regularizer=penalty, name=f"{prefix}_logits"))
    return layers


def build_branches(branches: Mapping[str, Branch], seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """One Keras model with a logits output per branch, and a single-branch model for each.

    The layers are built with seeds ``seed + 1000 * k`` for branch k, but these only fill the
    model until :func:`train_branches` draws every seed's initial weights and resets the random
    layers' seed generators (see ``_initialize``). The single-branch models share their layers
    (and weights) with the combined model.
    """
    import keras

    inputs = keras.Input((784,))
    outputs, singles = [], {}
    for k, (name, branch) in enumerate(branches.items()):
        h = inputs
        for layer in _branch_layers(branch, f"b{k}", seed + 1000 * k):
            h = layer(h)
        outputs.append(h)
        singles[name] = keras.Model(inputs, h, name=f"b{k}")
    return keras.Model(inputs, outputs), singles


def _local_name(layer: Any) -> str:
    """A branch's layer name without its branch prefix: "b3_dense0" -> "dense0"."""
    prefix, _, rest = layer.name.partition("_")
    return rest if prefix.startswith("b") and prefix[1:].isdigit() and rest else layer.name


def _initialize(model: Any, seed: int) -> None:
    """Fresh weights for every layer, drawn from `seed`: Glorot-uniform kernels (Keras' default),
    zero biases, batch normalization at gamma 1, beta 0 and moving averages 0 and 1; and every
    random layer's (dropout's, augmentation's) seed generator reset to a state drawn from `seed`.

    Each draw is keyed on the seed and the layer's name *within its branch* ("dense0", "drop1"),
    not on its position in the joint model: branches of one seed with the same architecture start
    from the same weights, and random layers at the same place draw the same masks, whichever
    other branches share the model. So a seed gives the same run alone or after another seed.
    """
    for layer in model.layers:
        key = zlib.crc32(_local_name(layer).encode())
        rng = np.random.default_rng([seed, key])
        for v in layer.weights:
            shape = tuple(v.shape)
            name = v.path.rsplit("/", 1)[-1]
            if name == "kernel":
                limit = np.sqrt(6.0 / (shape[0] + shape[1]))
                value = rng.uniform(-limit, limit, size=shape)
            elif name in ("gamma", "moving_variance"):
                value = np.ones(shape)
            else:  # bias, beta, moving_mean
                value = np.zeros(shape)
            v.assign(value.astype(v.dtype))
        for v in layer.variables:  # seed generators' states, not among layer.weights
            if v.path.rsplit("/", 1)[-1] == "seed_generator_state":
                start = np.random.default_rng([seed, key, 1]).integers(1, 2**31 - 1)
                v.assign(np.array([start, 0], dtype=v.dtype))


def _label_smoothing_loss(labels: Any, logits: Any, eps: float) -> Any:
    """Mean cross-entropy of `logits` against the smoothed targets (1 - eps) * one_hot(labels) +
    eps / classes: what ``keras.losses.CategoricalCrossentropy(from_logits=True,
    label_smoothing=eps)`` computes on one-hot labels, here for integer labels."""
    import keras

    ops = keras.ops
    log_p = ops.log_softmax(logits, axis=-1)
    picked = ops.take_along_axis(log_p, ops.expand_dims(ops.cast(labels, "int32"), -1), axis=-1)
    return ops.mean(-(1.0 - eps) * picked[..., 0] - eps * ops.mean(log_p, axis=-1))


def _as_list(outputs: Any) -> list[Any]:
    """A model's outputs as a list (Keras returns a single output as a tensor)."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def train_branches(
    branches: Mapping[str, Branch],
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    epochs: int,
    seeds: Sequence[int] = (0,),
    batch_size: int = 100,
    learning_rate: float = 1e-3,
    patience: int = 5,
) -> list[BranchRun]:
    """Train every branch on (x, y) with Adam for `epochs` epochs, once for every seed.

    Every seed draws fresh initial weights and fresh dropout and augmentation masks (the same
    for branches that share an architecture) and its own order of mini-batches (shared by the
    branches); the optimizer starts afresh. The model is built and its training
    step compiled once, for all seeds. Returns one :class:`BranchRun` per seed, with per-branch
    curves measured after every epoch in inference mode: ``loss`` and ``accuracy`` on the
    training images, ``val_loss`` and ``val_accuracy`` on the validation images (cross-entropy
    without penalties), and the early-stopping bookkeeping (``patience`` epochs without a lower
    validation loss). The validation images are measured as two halves (the first
    ``len(y_val) // 2`` and the rest), also kept as ``val_loss_a``, ``val_accuracy_a`` and
    ``val_loss_b``, ``val_accuracy_b``: a choice made on one half can be scored on the other.
    """
    tf = import_tensorflow()
    import keras

    if not branches:
        raise ValueError("No branches to train.")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}.")
    keras.utils.set_random_seed(int(seeds[0]))
    names = list(branches)
    model, singles = build_branches(branches, int(seeds[0]))
    opt = keras.optimizers.Adam(learning_rate)
    opt.build(model.trainable_variables)
    fresh_optimizer = [v.numpy() for v in opt.variables]
    x_all, y_all = tf.constant(np.asarray(x, "float32")), tf.constant(np.asarray(y, "int32"))
    # the validation set is measured as two halves, kept apart in the curves (a choice made on
    # one half can be scored on the other) and averaged, weighted by their sizes, for val_loss
    n_val = len(y_val)
    n_a = n_val // 2 if n_val > 1 else n_val
    halves = [
        (tf.constant(np.asarray(x_val[lo:hi], "float32")), tf.constant(np.asarray(y_val[lo:hi], "int32")), hi - lo)
        for lo, hi in ((0, n_a), (n_a, n_val))
        if hi > lo
    ]
    n = len(y)
    n_batches = -(-n // batch_size)

    def xent(labels: Any, logits: Any) -> Any:
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))

    smoothing = [float(branches[name].label_smoothing) for name in names]

    def train_xent(labels: Any, logits: Any, eps: float) -> Any:
        return _label_smoothing_loss(labels, logits, eps) if eps else xent(labels, logits)

    @tf.function
    def one_epoch(order: Any) -> None:
        for i in tf.range(n_batches):
            rows = order[i * batch_size : (i + 1) * batch_size]
            xb, yb = tf.gather(x_all, rows), tf.gather(y_all, rows)
            with tf.GradientTape() as tape:
                logits = _as_list(model(xb, training=True))
                loss = tf.add_n([train_xent(yb, z, e) for z, e in zip(logits, smoothing)])
                if model.losses:
                    loss = loss + tf.add_n(model.losses)
            opt.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

    @tf.function
    def measure(xs: Any, ys: Any) -> tuple[Any, Any]:
        logits = _as_list(model(xs, training=False))
        losses = tf.stack([xent(ys, z) for z in logits])
        accs = tf.stack(
            [
                tf.reduce_mean(tf.cast(tf.equal(tf.argmax(z, axis=-1, output_type=tf.int32), ys), "float32"))
                for z in logits
            ]
        )
        return losses, accs

    results = []
    for seed in seeds:
        _initialize(model, int(seed))
        for v, value in zip(opt.variables, fresh_optimizer):
            v.assign(value)
        rng = np.random.default_rng(int(seed))
        keys = (
            "loss",
            "accuracy",
            "val_loss",
            "val_accuracy",
            "val_loss_a",
            "val_accuracy_a",
            "val_loss_b",
            "val_accuracy_b",
        )
        curves = {name: {key: [] for key in keys} for name in names}
        best = {name: np.inf for name in names}
        best_epoch = {name: 0 for name in names}
        stopped = {name: 0 for name in names}
        best_weights: dict[str, list[np.ndarray]] = {}
        for epoch in range(1, epochs + 1):
            one_epoch(tf.constant(rng.permutation(n), dtype="int32"))
            train_loss, train_acc = measure(x_all, y_all)
            parts = [(measure(xh, yh), size) for xh, yh, size in halves]
            for k, name in enumerate(names):
                c = curves[name]
                c["loss"].append(float(train_loss[k]))
                c["accuracy"].append(float(train_acc[k]))
                for (losses, accs), part in zip([p for p, _ in parts], ("a", "b")):
                    c[f"val_loss_{part}"].append(float(losses[k]))
                    c[f"val_accuracy_{part}"].append(float(accs[k]))
                c["val_loss"].append(sum(float(p[0][k]) * size for p, size in parts) / n_val)
                c["val_accuracy"].append(sum(float(p[1][k]) * size for p, size in parts) / n_val)
                if stopped[name]:
                    continue
                if c["val_loss"][-1] < best[name]:
                    best[name], best_epoch[name] = c["val_loss"][-1], epoch
                    best_weights[name] = [w.copy() for w in singles[name].get_weights()]
                elif epoch - best_epoch[name] >= patience:
                    stopped[name] = epoch
        final = {name: [w.copy() for w in singles[name].get_weights()] for name in names}
        results.append(
            BranchRun(
                int(seed),
                names,
                curves,
                best_epoch,
                {name: stopped[name] or epochs for name in names},
                final,
                best_weights,
                singles,
            )
        )
    return results


def stack_runs(runs: Sequence[BranchRun], name: str, key: str) -> np.ndarray:
    """Curve `key` of branch `name` from several runs (seeds), one row per run."""
    return np.array([r.curves[name][key] for r in runs], dtype=float)
