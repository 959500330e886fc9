"""Gradient tools: gradient checks and per-layer gradient norms (chapter 1).

Kept small and framework-light so later chapters (optimizers, regularization) can reuse
them: TensorFlow is imported only inside :func:`gradient_norms`. Loss surfaces are drawn by
``course_utils.plots.plot_contours``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def relative_error(a: Any, b: Any, eps: float = 1e-12) -> float:
    """Relative error ||a - b|| / max(||a|| + ||b||, eps) used in gradient checks (chapter 1)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"Cannot compare gradients with {a.size} and {b.size} values.")
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), eps))


def gradient_norms(
    model: Any, x: Any, y: Any, loss_fn: Callable[[Any, Any], Any], kernels_only: bool = True
) -> dict[str, float]:
    """L2 norm of the loss gradient for each trainable variable (or only the kernels), by path (chapter 1)."""
    import tensorflow as tf

    variables = [v for v in model.trainable_variables if not kernels_only or v.path.endswith("kernel")]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, variables)
    return {v.path: float(tf.norm(g)) if g is not None else 0.0 for v, g in zip(variables, grads)}
