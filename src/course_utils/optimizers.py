"""Optimizer update rules from scratch, checked against ``keras.optimizers`` (chapter 3).

Each rule is a small class with the state that Keras keeps per parameter (its *slots*) and a
``step(w, g)`` that returns the updated weights, written to follow the arithmetic of the
matching Keras optimizer (Keras 3) operation for operation, so that the two agree to rounding
error over many steps. :func:`compare_with_keras` runs both side by side and returns the
largest difference; :func:`keras_slots_per_parameter` measures the memory cost from the
optimizer's own variables; :func:`run_rule` follows a rule on a 2-D test function; and
:func:`lr_range_test` sweeps the learning rate over one short run (Smith's range test).

The classes take NumPy arrays and never import TensorFlow; the Keras helpers import it lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .runtime import import_tensorflow

Array = np.ndarray


def f32(x: float) -> float:
    """A Python number as Keras uses it: converted to a float32 tensor first."""
    return float(np.float32(x))


class Rule:
    """An update rule: hyperparameters, per-parameter state (slots) and a step counter t."""

    slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float = 0.01) -> None:
        self.learning_rate = f32(learning_rate)  # Keras keeps it in a float32 variable
        self.state: dict[str, Array] = {}
        self.t = 0

    def initial(self, name: str, w: Array) -> Array:
        return np.zeros_like(w)

    def step(self, w: Array, g: Array) -> Array:
        w, g = np.asarray(w, dtype=np.float64), np.asarray(g, dtype=np.float64)
        if not self.state:
            self.state = {name: self.initial(name, w) for name in self.slots}
        self.t += 1
        return self.update(w, g)

    def update(self, w: Array, g: Array) -> Array:  # pragma: no cover - every rule overrides it
        raise NotImplementedError


class SGD(Rule):
    """Plain gradient descent: w <- w - lr * g (no state)."""

    def update(self, w: Array, g: Array) -> Array:
        return w - self.learning_rate * g


class Momentum(Rule):
    """Keras' SGD(momentum=mu, nesterov=...): a velocity v <- mu * v - lr * g."""

    slots = ("velocity",)

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        self.momentum, self.nesterov = f32(momentum), nesterov

    def update(self, w: Array, g: Array) -> Array:
        v = self.momentum * self.state["velocity"] - self.learning_rate * g
        self.state["velocity"] = v
        if self.nesterov:  # look ahead: apply the new velocity once more, as Keras does
            return w + self.momentum * v - self.learning_rate * g
        return w + v


class Adagrad(Rule):
    """Keras' Adagrad: a running sum of squared gradients, starting at 0.1 for every weight."""

    slots = ("accumulator",)

    def __init__(
        self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate)
        self.initial_accumulator_value, self.epsilon = f32(initial_accumulator_value), f32(epsilon)

    def initial(self, name: str, w: Array) -> Array:
        return np.full_like(w, self.initial_accumulator_value)

    def update(self, w: Array, g: Array) -> Array:
        total = self.state["accumulator"] + g**2
        self.state["accumulator"] = total
        return w - self.learning_rate * g / np.sqrt(total + self.epsilon)


class RMSprop(Rule):
    """Keras' RMSprop without momentum and not centred: an average of squared gradients."""

    slots = ("velocity",)

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.rho, self.epsilon = rho, f32(epsilon)

    def update(self, w: Array, g: Array) -> Array:
        average = self.rho * self.state["velocity"] + (1 - self.rho) * g**2
        self.state["velocity"] = average
        return w - self.learning_rate * g / np.sqrt(average + self.epsilon)


class AdamW(Rule):
    """Keras' AdamW (Adam when weight_decay=0): moment estimates with bias correction, then a
    decoupled decay w <- w - lr * weight_decay * w applied before the step."""

    slots = ("m", "v")

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float = 0.004,
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, f32(epsilon)
        self.weight_decay = f32(weight_decay)

    def update(self, w: Array, g: Array) -> Array:
        lr, b1, b2 = self.learning_rate, self.beta_1, self.beta_2
        w = w - w * self.weight_decay * lr
        first = self.state["m"] + (g - self.state["m"]) * f32(1 - b1)
        second = self.state["v"] + (g**2 - self.state["v"]) * f32(1 - b2)
        self.state["m"], self.state["v"] = first, second
        corrected_lr = lr * np.sqrt(1 - f32(b2) ** self.t) / (1 - f32(b1) ** self.t)
        return w - first * corrected_lr / (np.sqrt(second) + self.epsilon)


def Adam(learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7) -> AdamW:
    """Adam is AdamW without decay."""
    return AdamW(learning_rate, beta_1, beta_2, epsilon, weight_decay=0.0)


DECAY = f32(0.96)  # Nadam's momentum schedule


class Nadam(Rule):
    """Keras' Nadam: Adam with a Nesterov look-ahead on the first moment and Keras' momentum
    schedule mu_t = beta_1 * (1 - 0.5 * 0.96**t)."""

    slots = ("m", "v")

    def __init__(
        self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7
    ) -> None:
        super().__init__(learning_rate)
        self.beta_1, self.beta_2, self.epsilon = f32(beta_1), f32(beta_2), f32(epsilon)
        self.mu_product = 1.0  # one number for the whole model, not a slot

    def update(self, w: Array, g: Array) -> Array:
        b1, b2, t = self.beta_1, self.beta_2, self.t
        mu_t = b1 * (1 - 0.5 * DECAY**t)
        mu_next = b1 * (1 - 0.5 * DECAY ** (t + 1))
        self.mu_product *= mu_t
        self.state["m"] = self.state["m"] + (g - self.state["m"]) * (1 - b1)
        self.state["v"] = self.state["v"] + (g**2 - self.state["v"]) * (1 - b2)
        m_hat = mu_next * self.state["m"] / (1 - self.mu_product * mu_next) + (1 - mu_t) * g / (1 - self.mu_product)
        v_hat = self.state["v"] / (1 - b2**t)
        return w - self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon)


def compare_with_keras(
    rule: Rule, keras_optimizer: Any, grad: Callable[[Array], Array], w0: Array, steps: int = 200
) -> float:
    """Largest |w_scratch - w_keras| over ``steps`` steps, each side on its own gradients.

    grad(w) gives the gradient at w (NumPy). Keras works on a float64 variable, so the
    difference measures the formulas, not float32 rounding (Keras keeps the learning rate in
    float32: choose one that float32 holds exactly, such as 2**-5, to compare exactly).
    """
    tf = import_tensorflow()
    import keras

    w = np.array(w0, dtype=np.float64)
    variable = keras.Variable(w.copy(), dtype="float64")
    apply = tf.function(lambda g: keras_optimizer.apply([g], [variable]))
    worst = 0.0
    for _ in range(steps):
        apply(tf.constant(grad(np.asarray(variable.numpy())), dtype="float64"))
        w = rule.step(w, grad(w))
        worst = max(worst, float(np.max(np.abs(w - variable.numpy()))))
    return worst


def keras_slots_per_parameter(keras_optimizer: Any, n: int = 1000) -> float:
    """Numbers a Keras optimizer stores per trainable weight, measured from its variables.

    The optimizer is built on one variable of n weights; its counters (iterations, the learning
    rate, Nadam's momentum product) are single numbers and fall out of the count.
    """
    import_tensorflow()
    import keras

    variable = keras.Variable(np.zeros(n, dtype="float32"))
    keras_optimizer.build([variable])
    per_weight = sum(int(np.prod(v.shape)) for v in keras_optimizer.variables if int(np.prod(v.shape)) == n)
    return per_weight / n


def run_rule(
    rule: Rule, grad: Callable[[Array], Array], start: Any, steps: int, stop: Callable[[Array], bool] | None = None
) -> tuple[Array, int | None]:
    """Follow ``rule`` from ``start``; the path (steps + 1, dim) and the first step where stop(w) holds.

    The path ends early (and stays finite) when the weights blow up past 1e6.
    """
    w = np.array(start, dtype=np.float64)
    path, reached = [w.copy()], None
    for i in range(1, steps + 1):
        w = rule.step(w, grad(w))
        if not np.all(np.isfinite(w)) or np.max(np.abs(w)) > 1e6:
            break
        path.append(w.copy())
        if reached is None and stop is not None and stop(w):
            reached = i
            break
    return np.array(path), reached


def lr_range_test(
    model: Any,
    x: Array,
    y: Array,
    make_optimizer: Callable[[float], Any],
    start: float = 1e-5,
    stop: float = 10.0,
    steps: int = 100,
    batch_size: int = 64,
    seed: int = 0,
    diverge: float = 4.0,
) -> tuple[Array, Array]:
    """Smith's learning-rate range test on a softmax classifier (sparse labels).

    Trains one model for up to ``steps`` mini-batches while the learning rate grows
    geometrically from start to stop, recording each batch's loss; stops once the loss exceeds
    ``diverge`` times its lowest value. Returns (learning_rates, losses) of the steps run.
    Changes the model's weights: give it a fresh model.
    """
    tf = import_tensorflow()
    import keras

    if not 0 < start < stop or steps < 2:
        raise ValueError("Need 0 < start < stop and at least 2 steps.")
    rates = start * (stop / start) ** (np.arange(steps) / (steps - 1))
    optimizer = make_optimizer(float(rates[0]))
    xent = keras.losses.SparseCategoricalCrossentropy()

    @tf.function
    def train_step(xb: Any, yb: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = xent(yb, model(xb, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    rng = np.random.default_rng(seed)
    x, y = np.asarray(x, "float32"), np.asarray(y, "int32")
    losses: list[float] = []
    order = rng.permutation(len(y))
    position = 0
    for rate in rates:
        if position + batch_size > len(y):
            order, position = rng.permutation(len(y)), 0
        rows = order[position : position + batch_size]
        position += batch_size
        optimizer.learning_rate.assign(float(rate))
        loss = float(train_step(tf.constant(x[rows]), tf.constant(y[rows])))
        losses.append(loss)
        if not np.isfinite(loss) or loss > diverge * min(losses):
            break
    return rates[: len(losses)], np.array(losses)


def smooth(values: Any, beta: float = 0.9) -> Array:
    """Exponential moving average with bias correction, as range-test plots use it."""
    out, average = [], 0.0
    for i, value in enumerate(np.asarray(values, dtype=np.float64), start=1):
        average = beta * average + (1 - beta) * value
        out.append(average / (1 - beta**i))
    return np.array(out)
