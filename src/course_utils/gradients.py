"""Gradient tools: gradient checks, per-layer gradient sizes and plain gradient descent (chapter 1).

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


def gradient_rms(
    model: Any, x: Any, y: Any, loss_fn: Callable[[Any, Any], Any], kernels_only: bool = True
) -> dict[str, float]:
    """Root-mean-square entry of each variable's loss gradient, by path (chapter 1).

    Why not the norm: a norm grows with the number of entries, so the norms of a 784 x 64 and a
    64 x 10 kernel differ by a factor of about 8 for gradients of the same typical size. The RMS
    (norm / sqrt(size)) compares layers of different shapes fairly.
    """
    norms = gradient_norms(model, x, y, loss_fn, kernels_only=kernels_only)
    sizes = {v.path: int(np.prod(v.shape)) for v in model.trainable_variables if v.path in norms}
    return {path: norm / float(np.sqrt(sizes[path])) for path, norm in norms.items()}


def descend(
    grad: Callable[[np.ndarray], np.ndarray],
    x0: Any,
    lr: float,
    tol: float = 1e-6,
    max_steps: int = 500,
    loss: Callable[[np.ndarray], float] | None = None,
) -> tuple[np.ndarray, bool]:
    """Plain gradient descent x <- x - lr * grad(x) from x0, recording every point (chapter 1).

    Why a stopping rule: a loop must end even when it never converges. Without ``loss`` it stops
    when ||grad(x)|| < tol (at a minimum the gradient vanishes); with ``loss`` it stops when the
    loss changes by less than tol in one step (the rule that needs no gradient norm, and that
    also stops a run that merely crawls). It gives up after ``max_steps`` steps, or as soon as
    the point or its gradient overflows (a diverging run).

    Returns the visited points, start first, shape (steps + 1, dim), and whether the rule was met.
    """
    path = [np.array(x0, dtype=np.float64)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_steps):
            g = np.asarray(grad(path[-1]), dtype=np.float64)
            if loss is None and np.linalg.norm(g) < tol:
                return np.array(path), True
            if not np.all(np.isfinite(g)) or np.linalg.norm(path[-1]) > 1e6:
                break  # diverged: no point in going on
            path.append(path[-1] - lr * g)
            if loss is not None and abs(loss(path[-1]) - loss(path[-2])) < tol:
                return np.array(path), True
    return np.array(path), False
