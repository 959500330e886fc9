"""Chapter 3's oracles: Keras optimizers and the schedule's closed form (instructors only).

They answer the exercises, so they live here and never in the student package. The visible checks
compare with the values ``expected()`` returns for their public inputs, stored in
``course_utils/exercises/_expected_ch03.py`` by ``instructor/expected.py``; the hidden judges
(``checks.py``, in the grader's process) call them directly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_utils.exercises import ch03 as public


def keras_trajectory(optimizer: Any, w0: np.ndarray, gradients: list[np.ndarray]) -> np.ndarray:
    """The weights after each step of a Keras optimizer fed a fixed sequence of gradients (float64)."""
    import keras

    variable = keras.Variable(np.array(w0, dtype="float64"))
    path = []
    for g in gradients:
        optimizer.apply([keras.ops.convert_to_tensor(np.asarray(g, dtype="float64"))], [variable])
        path.append(np.array(variable.numpy()))
    return np.array(path)


def closed_form_warmup_cosine(step: float, peak: float, warmup_steps: int, decay_steps: int, floor: float) -> float:
    """The schedule the exercise asks for, as a plain formula."""
    if step < warmup_steps:
        return peak * step / warmup_steps
    progress = min(step - warmup_steps, decay_steps) / decay_steps
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def expected() -> dict[str, Any]:
    """The values the visible checks compare with, for their public inputs."""
    import keras

    w0, grads = public.rmsprop_inputs()
    rmsprop = [
        keras_trajectory(keras.optimizers.RMSprop(0.01, rho=0.9, momentum=m, epsilon=e, centered=c), w0, grads)
        for m, c, e in public.RMSPROP_SETTINGS
    ]
    w0, grads = public.amsgrad_inputs()
    amsgrad = []
    for lr, beta_1, beta_2 in public.AMSGRAD_SETTINGS:
        settings = {"beta_1": beta_1, "beta_2": beta_2, "epsilon": 1e-7}
        amsgrad.append(
            {
                "amsgrad": keras_trajectory(keras.optimizers.Adam(lr, amsgrad=True, **settings), w0, grads),
                "adam": keras_trajectory(keras.optimizers.Adam(lr, **settings), w0, grads),
            }
        )
    params = public.WARMUP_PARAMS
    warmup = {
        "at_steps": [closed_form_warmup_cosine(s, **params) for s in public.WARMUP_STEPS],
        "step_20": closed_form_warmup_cosine(20, **params),
        "sum_first_12": sum(closed_form_warmup_cosine(s, **params) for s in range(12)),
    }
    return {"rmsprop-momentum": rmsprop, "amsgrad": amsgrad, "warmup-cosine": warmup}
