"""Visible checks for chapter 0, "Getting started" (public, simple cases only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import Question, Verdict, as_array, call, expect_close, fail, validate_answers, visible_check

QUIZ = (Question("q1", ("A", "B", "C", "D")), Question("q2"), Question("q3", ("A", "B", "C", "D")))


@visible_check("ch00.build-classifier")
def check_build_classifier(build_classifier: Any) -> Verdict:
    """The model maps (n, 28, 28) images to (n, 10) probabilities with the right parameter count."""
    import keras
    model = call(build_classifier, 64, what="build_classifier")
    if not isinstance(model, keras.Model):
        fail(f"build_classifier should return a Keras model, got {type(model).__name__}.")
    x = np.zeros((2, 28, 28), dtype="float32")
    try:
        out = as_array(model(x), "the model's output")
    except Exception as err:
        fail(f"Calling the model on a batch of shape (2, 28, 28) failed: {type(err).__name__}: {err}")
    if out.shape != (2, 10):
        fail(f"The model's output has shape {out.shape}, expected (2, 10): one score per digit class.")
    if not np.allclose(out.sum(axis=1), 1.0, atol=1e-4) or (out < 0).any():
        fail("The outputs are not probabilities (rows should be >= 0 and sum to 1): "
             "use a softmax activation in the last layer.")
    expected = 784 * 64 + 64 + 64 * 10 + 10
    if model.count_params() != expected:
        fail(f"With hidden_units=64 the model has {model.count_params()} parameters, expected {expected}: "
             "does the hidden layer use the `hidden_units` argument?")
    return Verdict(True, "The model has the right shape, parameter count and softmax output.")


@visible_check("ch00.accuracy")
def check_accuracy(accuracy: Any) -> Verdict:
    """Accuracy of three hand-made predictions."""
    probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], dtype="float32")
    labels = np.array([1, 1, 1])
    got = call(accuracy, probs, labels, what="accuracy")
    expect_close(got, 2 / 3, "accuracy(probs, labels)")
    got = call(accuracy, probs, np.array([1, 0, 1]), what="accuracy")
    expect_close(got, 1.0, "accuracy(probs, labels) with all predictions right")
    return Verdict(True, "Correct on the two public examples.")


@visible_check("ch00.misclassified")
def check_misclassified(misclassified: Any) -> Verdict:
    """Indices of the wrong predictions in a five-example batch."""
    probs = np.eye(3, dtype="float32")[[0, 1, 2, 2, 0]]
    labels = np.array([0, 2, 2, 1, 0])
    got = as_array(call(misclassified, probs, labels, what="misclassified"), "misclassified(...)")
    if got.dtype == bool:
        fail("misclassified returned a boolean mask; return the integer indices (np.flatnonzero or np.where).")
    if not np.issubdtype(got.dtype, np.integer):
        fail(f"misclassified should return integer indices, got dtype {got.dtype}.")
    if got.tolist() == [0, 2, 4]:
        fail("You returned the indices of the *correct* predictions; the exercise asks for the wrong ones.")
    expect_close(got, np.array([1, 3]), "misclassified(...)")
    return Verdict(True, "Correct on the public example.")


@visible_check("ch00.best-epoch")
def check_best_epoch(best_epoch: Any) -> Verdict:
    """1-based epoch of the lowest validation loss in a hand-made history."""
    history = {"loss": [0.9, 0.5, 0.3, 0.2], "val_loss": [0.8, 0.45, 0.5, 0.6]}
    got = call(best_epoch, history, what="best_epoch")
    if got == 4:
        fail("best_epoch returned 4, the epoch of the lowest *training* loss: use history['val_loss'].")
    if got == 1:
        fail("best_epoch returned 1: that is the 0-based index of the best epoch. Epochs count from 1.")
    if got != 2:
        fail(f"best_epoch returned {got!r}, expected 2 for this history.")
    return Verdict(True, "Correct on the public example.")


@visible_check("ch00.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
