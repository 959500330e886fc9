"""Visible checks for chapter 4, "Regularization and normalization" (public, simple cases only)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checking import numpy_only
from . import Question, Verdict, as_array, call, expect_close, fail, validate_answers, visible_check
from ._expected_ch04 import EXPECTED

QUIZ = (
    Question("q1", ("A", "B", "C", "D")),
    Question("q2"),
    Question("q3", ("A", "B", "C", "D")),
    Question("q4"),
    Question("q5", ("A", "B", "C", "D")),
)


ELASTIC_A = np.array([[0.5, -1.5, 0.0], [2.0, 0.0, -0.25]])  # 2 examples, 3 features
ELASTIC_A3 = np.linspace(-1.2, 1.0, 24).reshape(4, 2, 3)  # 4 examples of 2 x 3 outputs
ELASTIC_A3[1, 0, 2] = 0.0
ELASTIC_SETTINGS = ((0.1, 0.0), (0.0, 0.2), (0.1, 0.2))
ELASTIC_CASES = tuple((a, l1, l2) for a in (ELASTIC_A, ELASTIC_A3) for l1, l2 in ELASTIC_SETTINGS)


def _pair(result: Any, name: str) -> tuple[Any, Any]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"{name} should return a pair (penalty, gradient), got {type(result).__name__}.")
    return result[0], result[1]


@visible_check("ch04.elastic-net")
def check_elastic_net(activity_elastic_net: Any) -> Verdict:
    """Outputs with exact zeros (2 x 3, and 4 examples of 2 x 3), under L1, L2 and both, against
    keras.layers.ActivityRegularization and the tape."""
    fn = numpy_only(activity_elastic_net, "activity_elastic_net")
    for (a, l1, l2), exp in zip(ELASTIC_CASES, EXPECTED["elastic-net"]):
        a = a.copy()
        a_copy = a.copy()
        penalty, grad = _pair(call(fn, a, l1, l2, what="activity_elastic_net"), "activity_elastic_net")
        if not np.array_equal(a, a_copy):
            fail("activity_elastic_net changed the caller's outputs; compute the penalty without modifying a.")
        expected_penalty, expected_grad = exp["penalty"], np.array(exp["grad"])
        n = a.shape[0]
        where = f"for outputs of shape {a.shape} with l1={l1}, l2={l2}"
        got = as_array(penalty, f"the penalty {where}")
        if got.size != 1:
            fail(f"The penalty {where} should be one number, got an array of shape {got.shape}.")
        value = float(got.ravel()[0])
        if math.isclose(value, expected_penalty * n, rel_tol=1e-6):
            fail(
                f"The penalty {where} is {n} times too large: an activity penalty is a mean over the examples "
                "of the batch (the first axis), not a sum."
            )
        if math.isclose(value * a.size, expected_penalty * n, rel_tol=1e-6):
            fail(f"The penalty {where} is divided by every entry of a; Keras divides by the number of examples only.")
        if l2 and math.isclose(value, expected_penalty - l2 * float(np.sum(a**2)) / (2 * n), rel_tol=1e-6):
            fail(f"The penalty {where} is too small: Keras' L2 term is l2 * sum(a**2), without a factor 1/2.")
        if not math.isclose(value, expected_penalty, rel_tol=1e-6, abs_tol=1e-12):
            fail(f"The penalty {where} is {value:.6g}; Keras' activity regularizer gives {expected_penalty:.6g}.")
        g = as_array(grad, f"the gradient {where}")
        if g.shape == a.shape and np.allclose(g, expected_grad * n, rtol=1e-6):
            fail(f"The gradient {where} is {n} times too large: the division by the batch size reaches it too.")
        if g.shape == a.shape and l1 and not np.allclose(g[a == 0], expected_grad[a == 0]):
            fail(
                f"The gradient {where} is wrong at the outputs that are exactly 0: TensorFlow takes the "
                "derivative of |a| at 0 to be 0."
            )
        expect_close(g, expected_grad, f"the gradient {where} (compared with tf.GradientTape)", rtol=1e-6, atol=1e-9)
    return Verdict(True, "Matches Keras' activity penalty and tf.GradientTape for L1, L2 and both.")


def channel_factors(
    x: np.ndarray, got: np.ndarray, channels_first: bool = False
) -> tuple[np.ndarray | None, str | None]:
    """The factor output / x of every (example, channel) as a (batch, channels) array, or a problem.

    x is positive, of shape (batch, spatial..., channels) or, channels first, (batch, channels,
    spatial...): spatial dropout multiplies every pixel of one channel of one example alike.
    """
    if got.shape != x.shape:
        return None, f"The output has shape {got.shape}, expected the shape of x, {x.shape}."
    ratio = got / x
    if channels_first:
        ratio = np.moveaxis(ratio, 1, -1)
    ratio = ratio.reshape(ratio.shape[0], -1, ratio.shape[-1])  # (batch, pixels, channels)
    if np.any(np.ptp(ratio, axis=1) > 1e-6):
        where = "axis 1" if channels_first else "the last axis"
        return None, (
            "Within one channel of one example, some pixels are kept and others dropped: spatial dropout "
            f"keeps or drops each channel (here on {where}) as a whole, whatever the number of spatial axes."
        )
    return ratio[:, 0, :], None


def _dropout_problem(x: np.ndarray, got: np.ndarray, rate: float, channels_first: bool = False) -> str | None:
    """What is wrong with a spatial-dropout output for positive x, or None."""
    factors, problem = channel_factors(x, got, channels_first)
    if problem:
        return problem
    kept = factors[np.abs(factors) > 1e-9]
    if kept.size and np.allclose(kept, 1.0):
        return "The kept channels are not scaled: multiply them by 1 / (1 - rate) so that the mean is kept."
    if kept.size and np.allclose(kept, 1 - rate):
        return "The kept channels are multiplied by 1 - rate; inverted dropout divides by it."
    if kept.size and not np.allclose(kept, 1 / (1 - rate)):
        return "Every kept channel should be multiplied by the same factor, 1 / (1 - rate)."
    dropped = float(np.mean(np.abs(factors) <= 1e-9))
    tolerance = 4 * math.sqrt(rate * (1 - rate) / factors.size) + 0.01
    if abs(dropped - (1 - rate)) < tolerance and abs(dropped - rate) >= tolerance:
        return "About 1 - rate of the channels are dropped: rate is the probability of dropping a channel."
    if abs(dropped - rate) >= tolerance:
        return f"{dropped:.0%} of the channels are dropped, expected about {rate:.0%}."
    return mask_dependence(np.abs(factors) <= 1e-9)


def _extreme_pairs(mask: np.ndarray) -> bool:
    """Whether two rows of a boolean mask agree everywhere or nowhere (columns >= 30: for
    independent draws at rate 0.5 that happens with probability below 2 ** -29 per pair)."""
    m = mask.astype(np.int64)
    agree = m @ m.T + (1 - m) @ (1 - m).T  # positions where rows i and j agree
    np.fill_diagonal(agree, mask.shape[1] // 2)
    return bool(np.any((agree == mask.shape[1]) | (agree == 0)))


def mask_dependence(dropped: np.ndarray) -> str | None:
    """What makes a (batch, channels) drop mask less than independent per example and channel, or None.

    Every pair of examples and every pair of channels is tested. With many channels (>= 30), two
    independent examples almost never agree on every channel or on none (below 2 ** -29 at rate
    0.5), and with many examples two channels neither; with few channels, identical example pairs
    are counted and compared with what chance gives. A mask drawn per block of examples, per pair
    of channels or once for the batch fails, whatever the rate looks like.
    """
    n, channels = dropped.shape
    if n > 1 and np.all(dropped == dropped[0]):
        return "Every example gets the same mask: draw an independent choice for every example and channel."
    rate = float(dropped.mean())
    if not 0 < rate < 1:
        return None
    varies = dropped.any(axis=0) & ~dropped.all(axis=0)
    if n >= 30 and varies.sum() > 1 and _extreme_pairs(dropped[:, varies].T):
        return "Some channels are always dropped together (or never): draw an independent choice for every channel."
    if channels >= 30 and _extreme_pairs(dropped):
        return "Some examples share their mask (or its opposite): draw an independent choice for every example."
    if n >= 4:
        same = (dropped[:, None, :] == dropped[None, :, :]).all(axis=2)
        identical = (same.sum() - n) / 2  # pairs of examples with the same mask
        pairs = n * (n - 1) / 2
        chance = pairs * (rate**2 + (1 - rate) ** 2) ** channels
        if identical > chance + 6 * math.sqrt(chance) + 3:
            return "Too many examples share their mask: draw an independent choice for every example."
    return None


def _mask(got: np.ndarray, x: np.ndarray, channels_first: bool = False) -> np.ndarray | None:
    factors, _ = channel_factors(x, got, channels_first)
    return None if factors is None else np.abs(factors) <= 1e-9


@visible_check("ch04.spatial-dropout")
def check_spatial_dropout(spatial_dropout: Any) -> Verdict:
    """Positive feature maps with 1, 2 and 3 spatial axes, channels last and first, rate 0.25 and
    0.5, the same x with two generators and with one seed twice; then inference mode and rate 0."""
    spatial_dropout = numpy_only(spatial_dropout, "spatial_dropout")
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(64, 4, 4, 8))
    x_copy = x.copy()
    for rate in (0.25, 0.5):
        got = as_array(
            call(spatial_dropout, x, rate, np.random.default_rng(1), what="spatial_dropout"),
            f"spatial_dropout(x, {rate}, rng)",
        )
        if not np.array_equal(x, x_copy):
            fail("spatial_dropout changed the caller's x; return a new array.")
        problem = _dropout_problem(x, got.astype(np.float64), rate)
        if problem:
            fail(f"With rate {rate}: {problem}")
    # many channels and examples: every pair of examples and of channels is tested
    for shape, channels_first in (((48, 6, 40), False), ((40, 36, 2, 2, 2), True), ((50, 3, 3, 32), False)):
        x = np.random.default_rng(5).uniform(0.5, 1.5, size=shape)
        layout = "channels first" if channels_first else "channels last"
        masks = []
        for seed in (11, 12, 11):  # two generators, then the first seed again
            kwargs = {"data_format": "channels_first"} if channels_first else {}
            got = as_array(
                call(spatial_dropout, x, 0.5, np.random.default_rng(seed), True, **kwargs, what="spatial_dropout"),
                f"spatial_dropout on x of shape {shape}, {layout}",
            ).astype(np.float64)
            problem = _dropout_problem(x, got, 0.5, channels_first)
            if problem:
                fail(f"On x of shape {shape} ({layout}): {problem}")
            masks.append(_mask(got, x, channels_first))
        if np.array_equal(masks[0], masks[1]):
            fail(
                "Two generators seeded differently give the same mask: draw the mask from the `rng` you are "
                "given, not from a generator of your own or np.random."
            )
        if not np.array_equal(masks[0], masks[2]):
            fail(
                "Two generators with the same seed give different masks: draw the mask from the `rng` you are "
                "given alone, not from np.random or a generator of your own."
            )
    x = x_copy
    got = as_array(
        call(spatial_dropout, x, 0.5, np.random.default_rng(2), False, what="spatial_dropout"),
        "spatial_dropout(x, 0.5, rng, training=False)",
    )
    if got.shape != x.shape or not np.allclose(got, x):
        fail("In inference (training=False) the output must be x itself: no mask, no scaling.")
    got = as_array(call(spatial_dropout, x, 0.0, np.random.default_rng(3), what="spatial_dropout"), "rate 0")
    if got.shape != x.shape or not np.allclose(got, x):
        fail("With rate 0 nothing is dropped and nothing scaled: the output must equal x.")
    return Verdict(True, "Whole channels dropped at the right rate, independently, from rng, in either layout.")


FOLD_X = np.random.default_rng(4).normal(0.0, 1.0, size=(5, 4))  # 5 inputs of 4 features
FOLD_CASES = (  # kernel (4 inputs, 3 units), bias or None, gamma, beta, moving mean, moving variance, epsilon
    (
        np.array([[0.5, -1.0, 0.2], [1.5, 0.3, -0.4], [-0.7, 0.8, 1.1], [0.0, 2.0, -1.2]]),
        np.array([0.3, -0.6, 1.0]),
        np.array([1.5, 0.5, -1.0]),
        np.array([0.1, -0.2, 0.4]),
        np.array([0.5, -1.0, 0.2]),
        np.array([2.0, 0.04, 0.5]),
        1e-3,
    ),
    (
        np.array([[1.0, 0.4, -0.3], [-0.2, 0.9, 0.6], [0.8, -1.5, 0.1], [0.3, 0.2, -0.9]]),
        None,  # a Dense layer built with use_bias=False
        np.array([0.8, 1.2, 2.0]),
        np.array([-0.5, 0.0, 0.3]),
        np.array([0.2, 0.7, -0.4]),
        np.array([0.3, 1.5, 0.02]),
        0.01,
    ),
)


def _folded(result: Any, units: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"fold_batchnorm should return a pair (new_kernel, new_bias), got {type(result).__name__}.")
    kernel, bias = result
    if bias is None:
        fail(
            f"new_bias is None ({what}). The folded layer needs a bias even when the Dense layer had "
            "none: the moving mean and beta do not vanish."
        )
    kernel = as_array(kernel, f"new_kernel ({what})")
    bias = as_array(bias, f"new_bias ({what})")
    if kernel.shape != (FOLD_X.shape[1], units):
        fail(f"new_kernel ({what}) should have the kernel's shape, {(FOLD_X.shape[1], units)}, got {kernel.shape}.")
    if bias.shape != (units,):
        fail(f"new_bias ({what}) should have shape {(units,)}, one value per unit, got {bias.shape}.")
    return kernel, bias


@visible_check("ch04.batchnorm")
def check_batchnorm(fold_batchnorm: Any) -> Verdict:
    """A Dense layer with and without its bias, each followed by batch normalization in inference
    mode, against the Keras pair's outputs on 5 inputs."""
    fold_batchnorm = numpy_only(fold_batchnorm, "fold_batchnorm")
    hints = {
        "no_epsilon": "add epsilon to the moving variance before the square root, as Keras does.",
        "variance": "divide by the standard deviation, sqrt(moving_var + epsilon), not by the variance.",
        "bias_unscaled": "the Dense bias goes through the normalization too: it is shifted by the moving mean "
        "and scaled like the rest of the unit's output.",
    }
    for (kernel, bias, *params, epsilon), exp in zip(FOLD_CASES, EXPECTED["batchnorm"]):
        what = "a Dense layer with a bias" if bias is not None else "a Dense layer with use_bias=False"
        given = [a.copy() for a in (kernel, bias, *params) if a is not None]
        args = (kernel.copy(), None if bias is None else bias.copy(), *[p.copy() for p in params])
        result = call(fold_batchnorm, *args, epsilon, what="fold_batchnorm")
        if any(not np.array_equal(a, g) for a, g in zip([a for a in args if a is not None], given)):
            fail("fold_batchnorm changed one of the arrays it was given; compute new ones.")
        new_kernel, new_bias = _folded(result, kernel.shape[1], what)
        y = FOLD_X @ new_kernel + new_bias
        for mistake, hint in hints.items():
            if mistake in exp and np.allclose(y, exp[mistake], rtol=1e-6, atol=1e-9):
                fail(f"With {what}: {hint}")
        expect_close(
            y,
            np.array(exp["y"]),
            f"x @ new_kernel + new_bias ({what}), compared with Keras' Dense and BatchNormalization in inference mode",
            rtol=1e-5,
            atol=1e-7,
        )
    return Verdict(True, "One Dense layer that computes what Dense followed by BatchNormalization does at inference.")


PUBLIC_CURVES: tuple[tuple[list[float], int, float | None, int], ...] = (
    ([0.80, 0.85, 0.87, 0.86, 0.86, 0.85, 0.84], 2, None, 0),
    ([0.80, 0.86, 0.85, 0.84, 0.83], 5, None, 0),
    ([0.50, 0.70, 0.80, 0.82, 0.81, 0.83, 0.82], 2, 0.9, 0),
    ([0.20, 0.90, 0.60, 0.70, 0.75, 0.74, 0.73, 0.72], 2, None, 2),
    ([0.9, 0.8, 0.7], 1, None, 3),
    ([0.50, 0.60, 0.70, 0.65, 0.66, 0.64], 2, 0.7, 0),  # a new best that only equals the baseline
)


@visible_check("ch04.restore-best")
def check_restore_best(restored_epoch: Any) -> Verdict:
    """Six public curves replayed through keras.callbacks.EarlyStopping."""
    restored_epoch = numpy_only(restored_epoch, "restored_epoch")
    for (values, patience, baseline, start), expected in zip(PUBLIC_CURVES, EXPECTED["restore-best"]):
        got = call(restored_epoch, list(values), patience, baseline, start, what="restored_epoch")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail("restored_epoch should return a pair (epochs_run, weights_epoch).")
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in got):
            fail(f"Both epochs should be integers, got {got!r}.")
        expected = tuple(expected)
        if tuple(got) == expected:
            continue
        where = f"with val_accuracy={values}, patience={patience}, baseline={baseline}, start_from_epoch={start}"
        if (got[0] + 1, got[1] + 1) == expected:
            fail("The epochs are 0-based: count them from 1, as Keras prints them.")
        fail(
            f"{where}: you return {tuple(got)}; keras.callbacks.EarlyStopping runs {expected[0]} epochs and "
            f"leaves the model with the weights of epoch {expected[1]}."
        )
    return Verdict(True, "Matches keras.callbacks.EarlyStopping on the six public curves.")


def _digit_model(seed: int) -> Any:
    """A small model like the exercise's make_digit_model, trained on 2,000 public images whose
    labels are shifted by one, (y + 1) % 10: only an answer that uses the model's own outputs
    can agree with them, not one that finds the true labels some other way."""
    import keras

    from course_utils.data import load_mnist

    data = load_mnist(train_size=2000, flatten=True, seed=seed)
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(64),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data.x_train, (data.y_train + 1) % 10, epochs=2, batch_size=64, verbose=0)
    return model


def _labels(result: Any, n: int, name: str) -> np.ndarray:
    got = as_array(result, name).ravel()
    if got.shape != (n,):
        fail(f"{name} should hold one label per image ({n}), got shape {np.shape(result)}.")
    return got.astype(np.int64)


@visible_check("ch04.fix-predictions")
def check_fix_predictions(predict_digits: Any) -> Verdict:
    """A small trained model, 300 raw test images: agreement with the model's own inference-mode
    predictions image by image, single images, two calls, weights unchanged."""
    import keras

    from course_utils.data import load_mnist

    untrained = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    call(predict_digits, untrained, np.zeros((2, 28, 28), dtype="uint8"), what="predict_digits")  # a stub fails here
    model = _digit_model(0)
    test = load_mnist(scale=False, train_size=2000, test_size=300, seed=0)
    images = test.x_test
    scaled = load_mnist(train_size=2000, test_size=300, seed=0, flatten=True).x_test  # as in training
    # what the model itself predicts, in inference mode, for the images scaled as in training
    expected = np.argmax(keras.ops.convert_to_numpy(model(scaled, training=False)), axis=1)
    weights = [w.copy() for w in model.get_weights()]
    first = _labels(call(predict_digits, model, images.copy(), what="predict_digits"), len(images), "the result")
    if any(not np.array_equal(a, b) for a, b in zip(weights, model.get_weights())):
        fail(
            "After predict_digits the model's weights (the batch-normalization moving averages) have changed: "
            "something runs the model as if it were training."
        )
    agreement = float(np.mean(first == expected))
    if agreement < 0.99:
        fail(
            f"Only {agreement:.1%} of your 300 labels are the ones this model predicts for these images "
            "(the check's model was trained on other labels than the digits', so only its own outputs "
            "score). Are the images given to the model like the ones it was trained on, and is it run "
            "as at inference?"
        )
    second = _labels(call(predict_digits, model, images.copy(), what="predict_digits"), len(images), "the result")
    if not np.array_equal(first, second):
        fail("Two calls on the same images give different labels: something random is still active.")
    single = [
        int(_labels(call(predict_digits, model, images[i : i + 1].copy(), what="predict_digits"), 1, "the result")[0])
        for i in range(5)
    ]
    if single != first[:5].tolist():
        fail(
            "An image gets another label when it comes alone than in a batch: predictions must not depend on the batch."
        )
    return Verdict(
        True,
        f"Fixed: {agreement:.1%} of the labels are the model's own inference-mode predictions, the same "
        "alone and in a batch, the model unchanged.",
    )


@visible_check("ch04.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
