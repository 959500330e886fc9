"""Visible checks for chapter 0, "Getting started" (public, simple cases only)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..checking import numpy_only
from . import Question, Verdict, as_array, call, fail, validate_answers, visible_check
from ._expected_ch00 import EXPECTED

QUIZ = (Question("q1", ("A", "B", "C", "D")), Question("q2", ("A", "B", "C", "D")), Question("q3"), Question("q4"))


@visible_check("ch00.top-k-accuracy")
def check_top_k_accuracy(top_k_accuracy: Any) -> Verdict:
    """Four examples, three classes, k = 1, 2 and 3; NumPy only (a Keras metric proves nothing)."""
    top_k_accuracy = numpy_only(top_k_accuracy, "top_k_accuracy")
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], dtype="float32")
    labels = np.array([1, 1, 0, 2])
    expected = {1: 0.25, 2: 0.5, 3: 1.0}  # label ranks: 2nd, 1st, 3rd, 3rd
    got = {
        k: as_array(
            call(top_k_accuracy, probs.copy(), labels.copy(), k, what="top_k_accuracy"),
            f"top_k_accuracy(probs, labels, {k})",
        )
        for k in expected
    }
    for k, value in got.items():
        if value.shape != ():
            fail(f"top_k_accuracy(..., k={k}) returned an array of shape {value.shape}; return one number.")
    values = {k: float(v) for k, v in got.items()}
    if values[1] == 0.5:
        fail(
            "With k=1 the result should be the plain accuracy (0.25 here). Did you take the k *smallest* "
            "probabilities? np.argsort sorts in increasing order."
        )
    if values[1] == 0.0 and values[2] == 0.25:
        fail(
            "The result is the top-(k-1) accuracy: when you count the classes ranked above the label, "
            "do not count the label's own class."
        )
    if values[1] == 1.0 and values[2] == 2.0:
        fail("top_k_accuracy returned the number of hits; divide by the number of examples.")
    if values[3] != 1.0:
        fail(f"With k=3 and three classes every label is in the top k, so the result is 1.0; got {values[3]:g}.")
    for k, value in values.items():
        if not np.isclose(value, expected[k]):
            fail(f"top_k_accuracy(probs, labels, k={k}) is {value:g}; on this example it should be {expected[k]:g}.")
    return Verdict(True, "Correct on the public example (k = 1, 2, 3).")


EARLY_STOPPING_CURVES = (
    ([0.9, 0.6, 0.5, 0.52, 0.49, 0.5, 0.51, 0.53, 0.55], 2, 0.0),
    ([0.9, 0.6, 0.5, 0.496, 0.492, 0.485, 0.6], 2, 0.01),  # no value at exactly best - d
    ([0.9, 0.5, 0.7, 0.6, 0.55, 0.52, 0.51], 2, 0.0),
    ([0.5, 0.4, 0.4, 0.45, 0.46, 0.47], 2, 0.0),  # a tie with the best value
    ([1.0, 0.5, 0.496, 0.492, 0.488, 0.487, 0.486, 0.485], 3, 0.01),  # a slow descent
)
# What each curve is there to catch, said when a function gets it wrong (by the curve's index).
EARLY_STOPPING_HINTS = {
    3: " A value equal to the reference (with min_delta=0) is no improvement.",
    4: (
        " The reference is the value of the last epoch that counted as an improvement: it does not"
        " follow the lowest value seen on epochs that did not improve."
    ),
}


@visible_check("ch00.early-stopping")
def check_early_stopping(early_stopping: Any) -> Verdict:
    """Five public curves, compared with what keras.callbacks.EarlyStopping did on them (stored values).

    The rule is replayed by hand: the callback itself (or any Keras code) is refused.
    """
    early_stopping = numpy_only(early_stopping, "early_stopping")
    for i, ((values, patience, min_delta), expected) in enumerate(
        zip(EARLY_STOPPING_CURVES, EXPECTED["early-stopping"], strict=True)
    ):
        got = call(early_stopping, list(values), patience, min_delta, what="early_stopping")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail("early_stopping should return a tuple (stop_epoch, best_epoch).")
        stop, best = got
        if (
            isinstance(stop, (bool, np.bool_))
            or not isinstance(stop, (int, np.integer))
            or not isinstance(best, (int, np.integer))
        ):
            fail(f"Both epochs should be integers, got {stop!r} and {best!r}.")
        expected = tuple(expected)
        where = f"with val_loss={values}, patience={patience}, min_delta={min_delta}"
        if (stop + 1, best + 1) == expected:
            fail("The epochs are 0-based: count them from 1, as Keras prints them.")
        if (stop, best) != expected:
            fail(
                f"{where}: you return ({stop}, {best}); keras.callbacks.EarlyStopping stops after epoch "
                f"{expected[0]} and restores epoch {expected[1]}.{EARLY_STOPPING_HINTS.get(i, '')}"
            )
    return Verdict(True, "Matches keras.callbacks.EarlyStopping on the public curves.")


@visible_check("ch00.split-and-scale")
def check_split_and_scale(split_and_scale: Any) -> Verdict:
    """Ten 2 x 2 images that carry their own index, sorted labels, three held out."""
    images = np.zeros((10, 2, 2), dtype="uint8")
    images[:, 0, 0] = np.arange(10) * 20  # image i has pixel (0, 0) = 20 i
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2], dtype="uint8")
    before = images.copy(), labels.copy()
    result = call(split_and_scale, images, labels, 3, 0, what="split_and_scale")
    try:
        (x_train, y_train), (x_val, y_val) = result
    except (TypeError, ValueError):
        fail("split_and_scale should return ((x_train, y_train), (x_val, y_val)).")
    if not np.array_equal(labels, before[1]) or not np.array_equal(images, before[0]):
        fail(
            "Your function changed the caller's arrays: rng.shuffle shuffles in place. "
            "Index with a permutation instead (a[order] makes a copy)."
        )
    x_train, x_val = as_array(x_train, "x_train"), as_array(x_val, "x_val")
    y_train, y_val = as_array(y_train, "y_train"), as_array(y_val, "y_val")
    if x_train.shape[1:] != (2, 2) or x_val.shape[1:] != (2, 2):
        fail(f"The images came in as 2 x 2 arrays and left with shape {x_train.shape[1:]}: keep their shape.")
    if (len(x_train), len(y_train), len(x_val), len(y_val)) != (7, 7, 3, 3):
        fail("With 10 examples and n_val=3, expect 7 training and 3 validation examples.")
    if x_train.dtype != np.float32:
        fail(f"The images are {x_train.dtype}; Keras trains in float32 (uint8 / 255 gives float64).")
    ids = np.rint(np.concatenate([x_train, x_val])[:, 0, 0] * 255 / 20).astype(int)
    if sorted(ids.tolist()) != list(range(10)):
        fail("The pixels are not the original ones divided by 255, or some images are repeated or lost.")
    if not np.array_equal(labels[ids], np.concatenate([y_train, y_val])):
        fail("Images and labels are no longer paired: shuffle both with one permutation.")
    if ids[:7].tolist() == list(range(7)):
        fail("The data is not shuffled: with sorted labels the validation set holds only the last class.")
    return Verdict(True, "Pairs kept, pixels scaled to float32, data shuffled, inputs untouched.")


MAX_PARAMS = 20_000  # the exercise's budget of weights: the chapter's model has five times as many
MAX_STEPS = 2_000  # the budget of gradient steps, summed over every Keras optimizer the function makes
TARGET = 0.96  # on the validation images, a margin above the 95.5 % the grade asks on test images


@contextlib.contextmanager
def _counting_steps() -> Iterator[list[Any]]:
    """Every Keras optimizer made inside, in a list: their step counters add up to the steps taken."""
    from keras.src.optimizers import base_optimizer

    made: list[Any] = []
    init = base_optimizer.BaseOptimizer.__init__

    def noting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(self)
        init(self, *args, **kwargs)

    base_optimizer.BaseOptimizer.__init__ = noting_init
    try:
        yield made
    finally:
        base_optimizer.BaseOptimizer.__init__ = init


@contextlib.contextmanager
def _mnist_hidden() -> Iterator[None]:
    """MNIST cannot be read inside: no data folder, an empty Keras cache, no verified copy in memory."""
    from .. import data as course_data

    saved = {name: os.environ.get(name) for name in (course_data.ENV_VAR, "KERAS_HOME")}
    kept = dict(course_data._VERIFIED)
    try:
        import keras.src.backend.config as keras_config
    except ImportError:  # pragma: no cover - depends on the Keras version
        keras_config = None
    keras_dir = getattr(keras_config, "_KERAS_DIR", None)
    with tempfile.TemporaryDirectory() as empty:
        os.environ[course_data.ENV_VAR] = os.environ["KERAS_HOME"] = empty
        course_data._VERIFIED.clear()
        if keras_dir is not None:
            keras_config._KERAS_DIR = empty
        try:
            yield
        finally:
            if keras_dir is not None:
                keras_config._KERAS_DIR = keras_dir
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            course_data._VERIFIED.clear()
            course_data._VERIFIED.update(kept)


def _reading_mnist_refused(fn: Any) -> Any:
    """fn, with an attempt to load MNIST (made impossible by _mnist_hidden) turned into a clear failure."""
    from ..data import DataError

    if fn is None or fn is Ellipsis or not callable(fn):
        return fn

    def train(*args: Any) -> Any:
        try:
            return fn(*args)
        except DataError:
            fail(
                "train_digit_model tried to load MNIST itself: train only on the images it receives "
                "(the grade measures test images, which it must never see)."
            )

    return train


@visible_check("ch00.train-within-budget")
def check_train_within_budget(train_digit_model: Any) -> Verdict:
    """Trains on the 55,000 training images, counts the steps and measures the 5,000 validation images."""
    import keras

    from course_utils.data import load_mnist

    data = load_mnist(validation=5000)
    x_train, y_train = data.x_train, data.y_train
    del data  # the validation images are read again after training
    # the grade uses test images: the function must not read MNIST itself
    with _mnist_hidden(), _counting_steps() as optimizers:
        model = call(_reading_mnist_refused(train_digit_model), x_train, y_train, what="train_digit_model")
    data = load_mnist(validation=5000)
    if not isinstance(model, keras.Model):
        fail(f"train_digit_model should return a trained Keras model, got {type(model).__name__}.")
    kinds = sorted({type(layer).__name__ for layer in model.layers} - {"Flatten", "Dense", "InputLayer"})
    if kinds:
        fail(f"The model uses {', '.join(kinds)}: this exercise allows Flatten and Dense layers only.")
    n_params = model.count_params()
    if n_params > MAX_PARAMS:
        fail(
            f"The model has {n_params:,} parameters, {n_params - MAX_PARAMS:,} over the {MAX_PARAMS:,} "
            "allowed: make the first Dense layer narrower."
        )
    own = getattr(model, "optimizer", None)
    counted = {id(o): o for o in [*optimizers, *([own] if own is not None else [])]}
    steps = sum(int(o.iterations) for o in counted.values())
    if steps > MAX_STEPS:
        fail(
            f"Training took {steps:,} gradient steps, {steps - MAX_STEPS:,} over the {MAX_STEPS:,} "
            f"allowed: an epoch makes ceil({len(x_train):,} / batch_size) steps."
        )
    if steps == 0:
        fail("No gradient step was counted: train the model with fit (a Keras optimizer counts its steps).")
    probs = as_array(model.predict(data.x_val, verbose=0), "the model's predictions")
    if probs.ndim != 2 or probs.shape[1] != 10:
        fail(f"The model's output has shape {probs.shape}; expected (n, 10), one score per digit.")
    accuracy = float(np.mean(probs.argmax(axis=1) == data.y_val))
    summary = f"{n_params:,} parameters, {steps:,} steps, validation accuracy {accuracy:.1%}"
    if accuracy < TARGET:
        fail(
            f"{summary}: {(TARGET - accuracy) * 100:.1f} points below the {TARGET:.0%} this check asks "
            "on the validation images."
        )
    return Verdict(True, f"{summary}. The grade uses other test images.")


@visible_check("ch00.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
