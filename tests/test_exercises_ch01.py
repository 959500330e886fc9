"""The visible checks of chapter 1 accept correct answers and reject the usual mistakes with specific hints."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.exercises import run_check

tf = pytest.importorskip("tensorflow")


# --- central-difference -------------------------------------------------------------------------

def central_ok(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        grad[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return grad


def central_forward(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        grad[idx] = (f(x + e) - f(x)) / h
    return grad


def central_no_two(f, x, h=1e-5):
    return 2 * central_ok(f, x, h)


def central_flat(f, x, h=1e-5):
    return central_ok(f, x, h).ravel()


def central_ignores_h(f, x, h=1e-5):
    return central_ok(f, x, 1e-5)


def central_in_place(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        x[idx] += h
        up = f(x)
        x[idx] -= 2 * h
        grad[idx] = (up - f(x)) / (2 * h)  # forgets to restore x[idx]
    return grad


def stub(*args, **kwargs):
    raise NotImplementedError


@pytest.mark.parametrize("fn, hint", [
    (central_forward, "forward difference"), (central_no_two, "twice the gradient"),
    (central_flat, "shape"), (central_ignores_h, "ignored"), (central_in_place, "changed the caller"),
    (stub, "Not implemented"), (lambda f, x, h=1e-5: None, "None"),
])
def test_central_difference_rejects(fn, hint):
    verdict = run_check("ch01.central-difference", fn)
    assert not verdict.passed and hint in verdict.message, verdict.message


def test_central_difference_accepts():
    assert run_check("ch01.central-difference", central_ok).passed


# --- gd-step and gradient-descent ---------------------------------------------------------------

def gd_step_ok(x, grad, lr):
    return x - lr * grad


def gd_step_in_place(x, grad, lr):
    x -= lr * grad
    return x


@pytest.mark.parametrize("fn, hint", [
    (lambda x, g, lr: x + lr * g, "uphill"), (lambda x, g, lr: x - g, "learning rate is ignored"),
    (lambda x, g, lr: -lr * g, "size of the step"), (gd_step_in_place, "in place"), (stub, "Not implemented"),
])
def test_gd_step_rejects(fn, hint):
    verdict = run_check("ch01.gd-step", fn)
    assert not verdict.passed and hint in verdict.message, verdict.message


def test_gd_step_accepts():
    assert run_check("ch01.gd-step", gd_step_ok).passed


def descent(stop_rule=True, count_offset=0, check_after_step=False):
    def gradient_descent(grad_fn, x0, lr, tol, max_steps):
        x = np.asarray(x0, dtype=float)
        n = 0
        while n < max_steps:
            g = grad_fn(x)
            if stop_rule and not check_after_step and np.linalg.norm(g) < tol:
                break
            x = x - lr * g
            n += 1
            if stop_rule and check_after_step and np.linalg.norm(grad_fn(x)) < tol:
                break
        return x, n + count_offset
    return gradient_descent


@pytest.mark.parametrize("fn, hint", [
    (descent(stop_rule=False), "all max_steps"), (descent(count_offset=1), "expected 12"),
    (descent(count_offset=-1), "expected 12"), (lambda *a: None, "None"),
    (lambda g, x0, lr, tol, m: x0, "tuple"), (stub, "Not implemented"),
])
def test_gradient_descent_rejects(fn, hint):
    verdict = run_check("ch01.gradient-descent", fn)
    assert not verdict.passed and hint in verdict.message, verdict.message


def test_gradient_descent_accepts():
    assert run_check("ch01.gradient-descent", descent()).passed


def test_gradient_descent_checking_after_the_step_is_caught_at_a_minimum():
    verdict = run_check("ch01.gradient-descent", descent(check_after_step=True))
    assert not verdict.passed and "already below tol" in verdict.message, verdict.message


# --- loss-gradients -----------------------------------------------------------------------------

def loss_gradients_ok(model, x, y, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    return tape.gradient(loss, model.trainable_variables)


def loss_gradients_kernel_only(model, x, y, loss_fn):
    return loss_gradients_ok(model, x, y, loss_fn)[:1]


def loss_gradients_of_predictions(model, x, y, loss_fn):
    with tf.GradientTape() as tape:
        out = tf.reduce_mean(model(x))
    return tape.gradient(out, model.trainable_variables)


def loss_gradients_applies(model, x, y, loss_fn):
    import keras
    grads = loss_gradients_ok(model, x, y, loss_fn)
    keras.optimizers.SGD(0.1).apply(grads, model.trainable_variables)
    return grads


def loss_gradients_outside_tape(model, x, y, loss_fn):
    loss = loss_fn(y, model(x))
    with tf.GradientTape() as tape:
        pass
    return tape.gradient(loss, model.trainable_variables)


@pytest.mark.parametrize("fn, hint", [
    (loss_gradients_kernel_only, "trainable variables"), (loss_gradients_of_predictions, "differs"),
    (loss_gradients_applies, "weights changed"), (loss_gradients_outside_tape, "None"),
    (stub, "Not implemented"),
])
def test_loss_gradients_rejects(fn, hint):
    verdict = run_check("ch01.loss-gradients", fn)
    assert not verdict.passed and hint in verdict.message, verdict.message


def test_loss_gradients_accepts():
    assert run_check("ch01.loss-gradients", loss_gradients_ok).passed


# --- clip-global-norm ---------------------------------------------------------------------------

def clip_ok(grads, clip_norm):
    norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
    return [g * clip_norm / max(norm, clip_norm) for g in grads], norm


def clip_each(grads, clip_norm):
    norm = clip_ok(grads, clip_norm)[1]
    return [g * min(1.0, clip_norm / np.linalg.norm(g)) for g in grads], norm


def clip_always(grads, clip_norm):
    norm = clip_ok(grads, clip_norm)[1]
    return [g * clip_norm / norm for g in grads], norm


def clip_sum_of_norms(grads, clip_norm):
    norm = float(sum(np.linalg.norm(g) for g in grads))
    return [g * clip_norm / max(norm, clip_norm) for g in grads], norm


def clip_returns_new_norm(grads, clip_norm):
    clipped, norm = clip_ok(grads, clip_norm)
    return clipped, min(norm, clip_norm)


@pytest.mark.parametrize("fn, hint", [
    (clip_each, "clipnorm"), (clip_always, "scaled *up*"), (clip_sum_of_norms, "sum of the norms"),
    (clip_returns_new_norm, "after clipping"), (lambda g, c: g, "tuple"), (stub, "Not implemented"),
])
def test_clip_rejects(fn, hint):
    verdict = run_check("ch01.clip-global-norm", fn)
    assert not verdict.passed and hint in verdict.message, verdict.message


def test_clip_accepts_and_matches_tensorflow():
    assert run_check("ch01.clip-global-norm", clip_ok).passed
    grads = [np.random.default_rng(0).normal(size=(3, 4)), np.arange(5.0)]
    for c in (0.5, 100.0):
        ours, norm = clip_ok(grads, c)
        theirs, tf_norm = tf.clip_by_global_norm([tf.constant(g) for g in grads], c)
        assert norm == pytest.approx(float(tf_norm))
        assert all(np.allclose(a, b.numpy()) for a, b in zip(ours, theirs))


# --- quiz ---------------------------------------------------------------------------------------

def test_quiz_checks_only_the_form():
    assert not run_check("ch01.quiz", {"q1": None, "q2": None, "q3": None, "q4": None, "q5": None}).passed
    verdict = run_check("ch01.quiz", {"q1": 1, "q2": "A", "q3": 2, "q4": "A", "q5": 3})
    assert verdict.passed and "graded when you submit" in verdict.message
    assert "q2 must be one of" in run_check("ch01.quiz", {"q1": 1, "q2": "E", "q3": 2, "q4": "A", "q5": 3}).message
