"""Chapter 0's oracle: Keras' EarlyStopping replayed on the visible check's curves (instructors only).

It answers the exercise, so it lives here and never in the student package; the visible check
compares with the values ``expected()`` returns, stored in ``course_utils/exercises/_expected_ch00.py``
by ``instructor/expected.py``.
"""

from __future__ import annotations

from typing import Any

from course_utils.exercises import ch00 as public


def keras_early_stopping(val_losses: list[float], patience: int, min_delta: float) -> tuple[int, int]:
    """What keras.callbacks.EarlyStopping does with these validation losses: (epochs run, best epoch)."""
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, min_delta=min_delta, restore_best_weights=True
    )
    model.stop_training = False  # fit sets this flag; the callback raises it to stop
    stopper.set_model(model)
    stopper.on_train_begin()
    epochs_run = 0
    for epoch, value in enumerate(val_losses):
        epochs_run = epoch + 1
        stopper.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            break
    return epochs_run, stopper.best_epoch + 1


def expected() -> dict[str, Any]:
    """The values the visible check compares with, for its public curves."""
    return {"early-stopping": [list(keras_early_stopping(list(v), p, d)) for v, p, d in public.EARLY_STOPPING_CURVES]}
