"""Tests of the loops chapter 1 moved into course_utils: descend, train_loop, gradient_rms."""

import numpy as np
import pytest

from course_utils.gradients import descend


def quadratic(lam):
    lam = np.asarray(lam, dtype=float)
    return (lambda x: 0.5 * float(np.sum(lam * x**2))), (lambda x: lam * x)


def test_descend_converges_below_two_over_lambda_max():
    _, grad = quadratic([1.0, 20.0])
    path, converged = descend(grad, [1.0, 1.0], lr=0.8 * 2 / 20)
    assert converged and np.linalg.norm(grad(path[-1])) < 1e-6
    assert np.array_equal(path[0], [1.0, 1.0])
    # every step multiplies x2 by 1 - lr * 20 = -0.6: a zig-zag
    assert path[1][1] == pytest.approx(-0.6) and path[2][1] == pytest.approx(0.36)


def test_descend_gives_up_on_divergence_and_at_the_step_cap():
    _, grad = quadratic([1.0, 2.0])
    path, converged = descend(grad, [1.0, 1.0], lr=1.05)
    assert not converged and np.linalg.norm(path[-1]) > 1e6 and len(path) < 500
    path, converged = descend(grad, [1.0, 1.0], lr=1e-4, max_steps=7)
    assert not converged and len(path) == 8


def test_descend_can_stop_when_the_loss_stops_changing():
    f, grad = quadratic([1.0, 20.0])
    by_loss, met = descend(grad, [2.0, 1.0], lr=0.005, tol=1e-4, max_steps=5000, loss=f)
    by_grad, _ = descend(grad, [2.0, 1.0], lr=0.005, tol=1e-4, max_steps=5000)
    assert met and len(by_loss) < len(by_grad)  # a crawling run looks converged to the loss rule
    assert abs(f(by_loss[-1]) - f(by_loss[-2])) < 1e-4 and np.linalg.norm(by_loss[-1]) > 0.01


@pytest.mark.slow
def test_train_loop_matches_fit_and_records_norms():
    from course_utils.runtime import import_tensorflow

    import_tensorflow()
    import keras

    from course_utils.gradients import gradient_norms, gradient_rms
    from course_utils.training import train_loop

    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def model(seed):
        keras.utils.set_random_seed(seed)
        layers = [keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)]
        return keras.Sequential([keras.Input((5,)), *layers])

    a, b = model(1), model(1)
    result = train_loop(a, x, y, loss_fn, epochs=2, batch_size=32, lr=0.1, norms_every=2)
    b.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=loss_fn)
    b.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-6)
    assert result.losses.shape == (6,) and result.seconds.shape == (2,)
    assert result.norms.shape == (3, 2) and list(result.norm_steps) == [0, 2, 4]

    eager = train_loop(model(1), x, y, loss_fn, epochs=1, batch_size=32, lr=0.1, graph=False)
    np.testing.assert_allclose(eager.losses, result.losses[:3], rtol=1e-5)

    c = model(2)
    norms, rms = gradient_norms(c, x, y, loss_fn), gradient_rms(c, x, y, loss_fn)
    assert set(rms) == set(norms)
    for path, value in rms.items():
        size = int(np.prod([v for v in c.trainable_variables if v.path == path][0].shape))
        assert value == pytest.approx(norms[path] / np.sqrt(size))
