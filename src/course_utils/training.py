"""Training helpers: quiet epoch logs and result tables (chapter 0), a hand-written loop (chapter 1).

Keras' progress bar writes carriage returns and backspaces that look garbled in a
static page, so the notebooks train with ``verbose=0`` and this callback instead.
``train_loop`` is the mini-batch SGD loop that chapter 1 writes out and compares with ``fit``;
it lives here so that later chapters can reuse it and its tests guard it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .runtime import import_tensorflow


def format_logs(epoch: int, epochs: int | None, logs: dict[str, Any], seconds: float | None) -> str:
    """One plain-text line for an epoch: 'epoch 3/5  loss 0.1234  val_loss 0.1500  (2.1 s)' (chapter 0)."""
    width = len(str(epochs)) if epochs else 1
    head = f"epoch {epoch:>{width}}/{epochs}" if epochs else f"epoch {epoch}"
    parts = [head] + [f"{k} {float(v):.4f}" for k, v in logs.items() if k != "learning_rate"]
    line = "  ".join(parts)
    return f"{line}  ({seconds:.1f} s)" if seconds is not None else line


def summary_text(model: Any) -> str:
    """Keras' model summary as plain text, without the terminal colour codes of model.summary() (chapter 0)."""
    lines: list[str] = []
    # Keras renders the table with a rich Console; inside Jupyter that console also sends an
    # empty HTML box to the page when its capture ends (the stray output above chapter 0's
    # summary). Telling rich it is not in Jupyter while the summary is captured avoids it.
    try:
        import rich.console as rich_console
    except ImportError:  # pragma: no cover - Keras depends on rich
        rich_console = None
    original = getattr(rich_console, "_is_jupyter", None)
    if original is not None:
        rich_console._is_jupyter = lambda: False
    try:
        model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    finally:
        if original is not None:
            rich_console._is_jupyter = original
    return "\n".join(lines).rstrip()


class LoopResult(NamedTuple):
    """What :func:`train_loop` measured (chapter 1)."""

    losses: np.ndarray  # the mean loss of every mini-batch, in the order of the steps
    seconds: np.ndarray  # wall-clock seconds of every epoch
    norms: np.ndarray  # gradient norm of every kernel, shape (recorded steps, kernels)
    norm_steps: np.ndarray  # the step index of each row of norms


def train_loop(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    loss_fn: Callable[[Any, Any], Any],
    epochs: int,
    batch_size: int,
    lr: float,
    shuffle_seed: int | None = None,
    graph: bool = True,
    norms_every: int = 0,
    verbose: bool = False,
) -> LoopResult:
    """Mini-batch SGD by hand: the loop that ``fit`` runs, spelled out (chapter 1).

    Every step computes the batch's mean loss under a ``tf.GradientTape``, asks it for the
    gradient of every trainable variable and lets ``keras.optimizers.SGD`` apply
    w <- w - lr * g. Why a helper: chapter 1 shows that this loop and ``fit`` give the same
    weights, times it, and records gradient norms with it; later chapters reuse it.

    shuffle_seed -- a new random order of the examples every epoch (None: the stored order,
                    as ``fit(shuffle=False)``)
    graph        -- compile the step with ``tf.function`` (False: run it eagerly, to time it)
    norms_every  -- every this many steps, record the gradient norm of every kernel (0: never)
    verbose      -- print one line per epoch with the mean loss and the seconds it took
    """
    tf = import_tensorflow()
    import keras

    optimizer = keras.optimizers.SGD(learning_rate=lr)
    variables = model.trainable_variables
    kernels = [i for i, v in enumerate(variables) if v.path.endswith("kernel")]

    def step(xb: Any, yb: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb, training=True))
        grads = tape.gradient(loss, variables)
        optimizer.apply(grads, variables)
        return loss, tf.stack([tf.norm(grads[i]) for i in kernels])

    run_step = tf.function(step) if graph else step
    rng = np.random.default_rng(shuffle_seed)
    losses: list[float] = []
    seconds: list[float] = []
    norms: list[np.ndarray] = []
    norm_steps: list[int] = []
    for epoch in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(len(x)) if shuffle_seed is not None else np.arange(len(x))
        first_step = len(losses)
        for i in range(0, len(x), batch_size):
            batch = order[i : i + batch_size]
            loss, kernel_norms = run_step(x[batch], y[batch])
            if norms_every and len(losses) % norms_every == 0:
                norms.append(kernel_norms.numpy())
                norm_steps.append(len(losses))
            losses.append(float(loss))
        seconds.append(time.perf_counter() - start)
        if verbose:
            mean = np.mean(losses[first_step:])
            print(f"epoch {epoch + 1}/{epochs}  mean loss {mean:.4f}  ({seconds[-1]:.1f} s)")
    return LoopResult(
        np.array(losses),
        np.array(seconds),
        np.array(norms).reshape(len(norms), len(kernels)),
        np.array(norm_steps, dtype=int),
    )


def _make_epoch_logger() -> type:
    """Define EpochLogger on first use: it subclasses a Keras class, and importing Keras (with
    TensorFlow behind it) is slow and noisy, so importing this module must not do it."""
    import_tensorflow()  # imports Keras without TensorFlow's start-up log lines
    import keras

    class EpochLogger(keras.callbacks.Callback):
        """A Keras callback that prints one clean line per epoch, every `every` epochs (chapter 0)."""

        def __init__(self, every: int = 1, show_time: bool = True):
            super().__init__()
            self.every = max(1, int(every))  # print every n-th epoch (and always the last)
            self.show_time = show_time  # append the epoch's wall-clock time
            self._start = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            epochs = self.params.get("epochs") if getattr(self, "params", None) else None
            last = epochs is not None and epoch + 1 == epochs
            if (epoch + 1) % self.every == 0 or last or epoch == 0:
                seconds = time.perf_counter() - self._start if self.show_time else None
                print(format_logs(epoch + 1, epochs, logs or {}, seconds), flush=True)

    EpochLogger.__qualname__ = "EpochLogger"
    return EpochLogger


_LAZY: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    """``from course_utils.training import EpochLogger`` builds the class then (PEP 562)."""
    if name == "EpochLogger":
        if name not in _LAZY:
            _LAZY[name] = _make_epoch_logger()
        return _LAZY[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
