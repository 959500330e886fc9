"""Training recipes and the time-to-accuracy race (`benchmarks/time_to_accuracy.py`).

A recipe is everything about training except the data: the model, the batch size, the optimizer
and its learning-rate schedule, label smoothing, and how many steps Keras runs per call into the
compiled graph. Keeping recipes as records (not as code copied into each notebook) lets the
benchmark and the chapters (the capstone, still to be written, will use them) race the same ones.

The race measures what a student waits for: wall-clock seconds of training until the model
reaches a target accuracy on held-out images, checked a few times per epoch. The checks
themselves are not counted, so a recipe is not penalized for being checked often.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from .runtime import import_tensorflow


@dataclass(frozen=True)
class Recipe:
    """How to train one model; the defaults are the seed articles' recipe (Adam, batch 32)."""

    name: str  # shown in tables and legends
    model: str = "mlp"  # "mlp": Flatten-Dense(128)-Dense(10); "convnet": the keras.io MNIST convnet;
    #                     "capstone": three convolutions with batch normalization (chapter 5)
    batch_size: int = 32  # examples per gradient step
    learning_rate: float = 1e-3  # the peak learning rate
    optimizer: str = "adam"  # "adam" or "adamw"
    weight_decay: float = 0.0  # decoupled weight decay (AdamW only)
    schedule: str = "constant"  # "constant", or "cosine": linear warm-up, then cosine decay to zero
    warmup_fraction: float = 0.0  # share of the schedule's steps spent warming up
    epochs: int = 10  # the schedule's horizon, and the most epochs the race allows
    label_smoothing: float = 0.0  # 0.1 moves 10% of each target's mass to the other classes
    steps_per_execution: int = 1  # batches per call into the compiled graph (less Python overhead)
    jit_compile: bool | str = "auto"  # XLA; Keras' "auto" leaves it off on a CPU
    precision: str = "float32"  # "mixed_bfloat16": layers compute in 16 bits; "auto": see below
    dropout: float | None = None  # before the output layer; None: the model's own (convnet 0.5, else none)
    batchnorm: bool = True  # batch normalization after each convolution (capstone only)
    shift: float = 0.0  # random shifts in training, up to this fraction of the image's width and height
    rotation: float = 0.0  # random rotations in training, up to this fraction of a full turn


def changes(before: Recipe, after: Recipe) -> dict[str, tuple[Any, Any]]:
    """The settings two recipes differ in (the name aside), as {setting: (before, after)}."""
    return {
        f.name: (getattr(before, f.name), getattr(after, f.name))
        for f in fields(Recipe)
        if f.name != "name" and getattr(before, f.name) != getattr(after, f.name)
    }


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return {flag for line in info if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
    except OSError:
        return set()


def gpu_has_bfloat16() -> bool:
    """True when TensorFlow sees a GPU of compute capability 8.0 or later (Ampere, Hopper, ...)."""
    tf = import_tensorflow()
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0)
        if tuple(capability) >= (8, 0):
            return True
    return False


def resolve_precision(requested: str, gpu: bool | None = None, flags: set[str] | None = None) -> str:
    """Resolve "auto": bfloat16 mixed precision where the hardware computes in it natively, else float32.

    GPUs from Ampere on (compute capability 8.0; not the T4 or V100 of free Colab) and CPUs with
    AVX-512 BF16 or AMX run bfloat16 matrix products at about twice the float32 rate; elsewhere
    bfloat16 is emulated and slower than float32. `gpu`: such a GPU is present (None: ask TF).
    """
    if requested != "auto":
        return requested
    if gpu is None:
        gpu = gpu_has_bfloat16()
    flags = cpu_flags() if flags is None else flags
    return "mixed_bfloat16" if gpu or {"avx512_bf16", "amx_bf16"} & flags else "float32"


def build_model(recipe: Recipe, seed: int = 0) -> Any:
    """The recipe's network with logits as outputs (the loss applies the softmax, stably)."""
    import_tensorflow()
    import keras

    keras.utils.set_random_seed(seed)
    before = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(resolve_precision(recipe.precision))  # read when layers are built
    try:
        return _layers(keras, recipe)
    finally:
        keras.mixed_precision.set_global_policy(before)


def _layers(keras: Any, recipe: Recipe) -> Any:
    layers = keras.layers
    if recipe.model == "mlp":
        body = [layers.Flatten(), layers.Dense(128, activation="relu")]
    elif recipe.model == "convnet":  # https://keras.io/examples/vision/mnist_convnet/
        body = [
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),  # then Dropout(0.5), unless the recipe says otherwise
        ]
    elif recipe.model == "capstone":
        body = [
            *_convolution(layers, 32, recipe.batchnorm, pool=True),  # 28 x 28 -> 14 x 14
            *_convolution(layers, 64, recipe.batchnorm, pool=True),  # -> 7 x 7
            *_convolution(layers, 128, recipe.batchnorm, padding="valid"),  # -> 5 x 5
            layers.Flatten(),
        ]
    else:
        raise ValueError(f"unknown model {recipe.model!r}: use 'mlp', 'convnet' or 'capstone'")
    dropout = recipe.dropout if recipe.dropout is not None else (0.5 if recipe.model == "convnet" else 0.0)
    if dropout:
        body.append(layers.Dropout(dropout))
    augment = []  # preprocessing layers: active in training, the identity in inference
    if recipe.shift:
        augment.append(layers.RandomTranslation(recipe.shift, recipe.shift, fill_mode="constant"))
    if recipe.rotation:
        augment.append(layers.RandomRotation(recipe.rotation, fill_mode="constant"))
    # the last layer computes in float32 so that the loss sees full-precision logits
    head = layers.Dense(10, dtype="float32")
    return keras.Sequential([keras.Input((28, 28, 1)), *augment, *body, head], name=recipe.model)


def _convolution(layers: Any, filters: int, batchnorm: bool, pool: bool = False, padding: str = "same") -> list:
    """3 x 3 convolution, [2 x 2 max pooling], [batch normalization], ReLU.

    Pooling before normalizing leaves batch normalization and ReLU a quarter of the values to
    work on: on a CPU these element-wise layers take a large share of the training time. The
    moving averages use momentum 0.9 (Keras' default is 0.99): they then follow the changing
    weights within tens of steps instead of hundreds, so that a short run is not judged with
    stale statistics (with 0.99, 120 steps left the network at chance accuracy in inference).
    """
    block = [layers.Conv2D(filters, 3, padding=padding, use_bias=not batchnorm)]
    if pool:
        block.append(layers.MaxPooling2D(2))
    if batchnorm:
        block.append(layers.BatchNormalization(momentum=0.9))
    return [*block, layers.ReLU()]


def learning_rate(recipe: Recipe, steps_per_epoch: int) -> Any:
    """A float for a constant rate; otherwise warm-up then cosine decay over the recipe's epochs."""
    if recipe.schedule == "constant":
        return recipe.learning_rate
    if recipe.schedule != "cosine":
        raise ValueError(f"unknown schedule {recipe.schedule!r}: use 'constant' or 'cosine'")
    import keras

    total = max(1, recipe.epochs * steps_per_epoch)
    warmup = int(recipe.warmup_fraction * total)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else recipe.learning_rate,
        decay_steps=total - warmup,
        warmup_target=recipe.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def compile_model(model: Any, recipe: Recipe, n_train: int) -> Any:
    """Compile with the recipe's optimizer, schedule and loss (integer labels, logits)."""
    import keras

    steps = math.ceil(n_train / recipe.batch_size)
    rate = learning_rate(recipe, steps)
    if recipe.optimizer == "adam":
        optimizer = keras.optimizers.Adam(rate)
    elif recipe.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(rate, weight_decay=recipe.weight_decay)
    else:
        raise ValueError(f"unknown optimizer {recipe.optimizer!r}: use 'adam' or 'adamw'")
    if recipe.label_smoothing:
        # label smoothing needs one-hot targets; the data is one-hot encoded in `race`
        loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=recipe.label_smoothing)
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=optimizer, loss=loss, steps_per_execution=recipe.steps_per_execution, jit_compile=recipe.jit_compile
    )
    return model


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Share of correct predictions (argmax of the logits), in large batches."""
    logits = model.predict(x, batch_size=2048, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == y))


@dataclass
class RaceResult:
    """One recipe's race: seconds to the target (None: not reached) and the accuracy curve."""

    recipe: Recipe
    seconds: float | None  # training seconds until the target was first reached
    accuracy: float  # accuracy at the last check
    curve: list[tuple[float, float]]  # (training seconds, accuracy) at every check
    model: Any = None  # the trained network (logits out)


def seconds_to(curve: list[tuple[float, float]], target: float) -> float | None:
    """Training seconds at the first check that reached `target` accuracy (None: never reached)."""
    return next((seconds for seconds, acc in curve if acc >= target), None)


def _race_callback(
    x_check: np.ndarray, y_check: np.ndarray, target: float | None, every: int, max_seconds: float | None = None
) -> Any:
    """A TimeToAccuracy callback (defined on first use: subclassing Keras imports it)."""
    import keras

    class TimeToAccuracy(keras.callbacks.Callback):
        """Checks accuracy every `every` steps with the clock stopped; stops at the target or the time limit."""

        def on_train_begin(self, logs=None):
            self.start, self.paused, self.curve, self.reached = time.perf_counter(), 0.0, [], None
            self.offset, self.last = 0, 0  # steps before this epoch; step of the last check

        def on_epoch_begin(self, epoch, logs=None):
            self.offset = epoch * (self.params.get("steps") or 0)

        def on_train_batch_end(self, batch, logs=None):
            # with steps_per_execution > 1 Keras calls this once per chunk, with the chunk's last
            # batch, which may lie past the end of the epoch (the chunk stops there)
            step = self.offset + min(batch + 1, self.params.get("steps") or batch + 1)
            if step - self.last >= every:
                self.last = step
                self.check()

        def on_epoch_end(self, epoch, logs=None):
            end = self.offset + (self.params.get("steps") or 0)
            if not self.model.stop_training and self.last < end:  # one check at every epoch's end
                self.last = end
                self.check()

        def check(self):
            # reading a variable waits for the queued training steps (a GPU runs them asynchronously),
            # so that they are counted as training, not as checking
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
            now = time.perf_counter()
            acc = accuracy(self.model, x_check, y_check)
            seconds = now - self.start - self.paused
            self.curve.append((seconds, acc))
            self.paused += time.perf_counter() - now
            if target is not None and acc >= target and self.reached is None:
                self.reached = seconds
                self.model.stop_training = True
            if max_seconds is not None and seconds >= max_seconds:
                self.model.stop_training = True

    return TimeToAccuracy()


def race(
    recipe: Recipe,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_check: np.ndarray,
    y_check: np.ndarray,
    target: float | None,
    seed: int = 0,
    checks_per_epoch: int = 4,
    max_seconds: float | None = None,
) -> RaceResult:
    """Train `recipe` until it reaches `target` accuracy on (x_check, y_check) or its epochs end.

    target      -- None: never stop early, train every epoch of the recipe (its schedule's horizon)
    max_seconds -- stop at the first check after this many seconds of training (None: no limit)
    """
    import keras

    model = compile_model(build_model(recipe, seed), recipe, len(x_train))
    targets = keras.utils.to_categorical(y_train, 10) if recipe.label_smoothing else y_train
    every = max(1, len(x_train) // (recipe.batch_size * checks_per_epoch))
    watch = _race_callback(x_check, y_check, target, every, max_seconds)
    model.fit(x_train, targets, batch_size=recipe.batch_size, epochs=recipe.epochs, callbacks=[watch], verbose=0)
    return RaceResult(recipe, watch.reached, watch.curve[-1][1] if watch.curve else 0.0, watch.curve, model)


# The recipes the benchmark races. The seed recipe is that of the articles the course
# grew from (Adam at its default rate, batch 32); the course's recipes change only how the same
# network is trained.
SEED_MLP = Recipe("seed recipe (Adam, batch 32)", model="mlp", epochs=10)
COURSE_MLP = Recipe(
    "course recipe",
    model="mlp",
    batch_size=256,  # 8x fewer steps per epoch than batch 32, each barely slower on a CPU
    learning_rate=6e-3,  # a larger batch averages out noise and tolerates a larger step
    schedule="cosine",  # warm up over the first 10%, then decay to zero by the last epoch
    warmup_fraction=0.1,
    epochs=5,
    steps_per_execution=64,  # one call into the compiled graph per 64 batches
    precision="auto",  # bfloat16 where the hardware has it (see resolve_precision)
)
SEED_CONVNET = replace(SEED_MLP, model="convnet", epochs=12)
# the same schedule over 6 epochs: the convnet crosses 99 % in its second or third epoch, when the
# rate has come down (tried on two seeds against batch 128, label smoothing and a 4e-3 peak)
COURSE_CONVNET = replace(COURSE_MLP, model="convnet", epochs=6)
# Chapter 5: every ingredient of the course in one recipe, for >= 99.5 % test accuracy within
# five minutes of training on 2 CPU cores. Probed on the course's 2-core machine: batch 128 took
# about 22 s per epoch against 17 s for batch 256 (each step has a fixed cost on a CPU), and
# batch 256 at a peak of 4e-3 ended as accurate after 13 to 16 epochs as batch 128 after 14.
CAPSTONE = Recipe(
    "capstone",
    model="capstone",
    batch_size=256,
    learning_rate=4e-3,  # the peak, after a warm-up over the first 10 % of the steps
    optimizer="adamw",
    weight_decay=5e-4,  # decoupled: each step shrinks every weight by learning_rate * 5e-4
    schedule="cosine",
    warmup_fraction=0.1,
    epochs=13,
    label_smoothing=0.1,
    steps_per_execution=64,
    precision="auto",
    dropout=0.2,
    shift=0.08,  # up to 8 % of 28 pixels: about 2 pixels in each direction
    rotation=0.03,  # up to 3 % of a full turn: about 11 degrees either way
)
