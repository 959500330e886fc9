"""Training helpers: quiet epoch logs and result tables (chapter 0).

Keras' progress bar writes carriage returns and backspaces that look garbled in a
static page, so the notebooks train with ``verbose=0`` and this callback instead.
"""

from __future__ import annotations

import time
from typing import Any

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
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    return "\n".join(lines).rstrip()


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
