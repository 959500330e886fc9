"""Hidden checks for chapter 4, "Regularization and normalization" (instructors only).

The format is chapter 0's (see instructor/ch00/checks.py and the instructors' page): an export
snippet per exercise, run in the student's kernel through the kit's ``_call``, and a judge
per exercise, run in the grader's process against the reference solution's export.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_utils.checking import Verdict, fail
from course_utils.exercises.ch04 import channel_factors, mask_dependence
from course_utils.grading.kit import (
    QUIZ_EXPORT,
    HiddenCheck,
    each_case,
    mismatch,
    numpy_only,
    ok,
    quiz_judge,
    refuse_frameworks,
    sibling,
    snippet,
)

# Imports every snippet may rely on (the exercise section's first cell imports the same).
PRELUDE = "import numpy as np\nimport tensorflow as tf\nimport keras\n"

_EXPORT_ELASTIC_NET = numpy_only(
    '''
_rng = np.random.default_rng(41)
_export = {"cases": []}
_shapes = [((5, 4), 0.01, 0.0), ((3, 3, 2, 4), 0.0, 0.05), ((7,), 0.2, 0.3), ((6, 6), 1e-4, 1e-3),
           ((1, 8), 0.3, 0.1), ((16, 3), 0.05, 0.02)]
for _shape, _l1, _l2 in _shapes:
    _a = _rng.normal(0, 0.5, size=_shape)
    _a.ravel()[::5] = 0.0  # exact zeros, where |a| has no derivative
    _a_before = _a.copy()
    _case = _call("activity_elastic_net", _a, _l1, _l2)
    _case["modified_a"] = bool(not np.array_equal(_a, _a_before))
    _export["cases"].append(_case)
''',
    "activity_elastic_net",
)

_EXPORT_SPATIAL_DROPOUT = numpy_only(
    '''
_rng = np.random.default_rng(42)
_export = {"cases": []}
for _shape, _rate, _training, _first in [
        ((96, 3, 3, 12), 0.3, True, False), ((50, 2, 5, 20), 0.6, True, False),
        ((40, 4, 4, 6), 0.5, False, False), ((30, 3, 3, 5), 0.0, True, False),
        ((120, 2, 2, 10), 0.1, True, False), ((45, 33, 3, 3), 0.4, True, True),
        ((36, 2, 2, 2, 40), 0.5, True, False)]:
    _x = _rng.uniform(0.2, 2.0, size=_shape)
    _x_before = _x.copy()
    _kwargs = {"data_format": "channels_first"} if _first else {}
    _case = _call("spatial_dropout", _x, _rate, np.random.default_rng(int(_rng.integers(1000))),
                  _training, **_kwargs)
    _case.update(x=_x_before, rate=_rate, training=_training, channels_first=_first,
                 modified_x=bool(not np.array_equal(_x, _x_before)))
    _export["cases"].append(_case)
_x = _rng.uniform(0.2, 2.0, size=(60, 7, 36))
for _seed in (617, 618, 617):  # the same x: two generators, then the first seed again
    _x_before = _x.copy()
    _case = _call("spatial_dropout", _x, 0.5, np.random.default_rng(_seed), True)
    _case.update(x=_x_before, rate=0.5, training=True, channels_first=False, seed=_seed,
                 modified_x=bool(not np.array_equal(_x, _x_before)))
    _export["cases"].append(_case)
''',
    "spatial_dropout",
)

_EXPORT_BATCHNORM = numpy_only(
    '''
_rng = np.random.default_rng(43)
_export = {"cases": []}
for _inputs, _units, _with_bias, _eps in [(6, 4, True, 1e-3), (10, 3, False, 1e-3), (3, 8, True, 0.1),
                                         (5, 5, False, 1e-5), (7, 2, True, 0.01), (4, 6, True, 1e-3)]:
    _kernel = _rng.normal(size=(_inputs, _units))
    _bias = _rng.normal(0, 2, size=_units) if _with_bias else None
    _gamma = _rng.uniform(0.5, 2, _units) * _rng.choice([-1.0, 1.0], _units)
    _given = [_kernel, _gamma, _rng.normal(size=_units), _rng.normal(0, 2, size=_units),
              _rng.uniform(0.001, 3, _units)]
    _before = [a.copy() for a in _given] + ([] if _bias is None else [_bias.copy()])
    _case = _call("fold_batchnorm", _kernel, _bias, *_given[1:], _eps)
    _case["modified"] = bool(any(not np.array_equal(a, b) for a, b in
                                 zip(_given + ([] if _bias is None else [_bias]), _before)))
    _case["with_bias"] = _with_bias
    _export["cases"].append(_case)
''',
    "fold_batchnorm",
)

_EXPORT_RESTORE_BEST = numpy_only(
    '''
_rng = np.random.default_rng(44)
_curves = [
    ([0.70, 0.80, 0.85, 0.84, 0.86, 0.86, 0.85, 0.83], 2, None, 0),
    ([0.60, 0.70, 0.75, 0.78, 0.80, 0.79, 0.81, 0.80, 0.82, 0.81], 3, 0.9, 0),
    ([0.95, 0.50, 0.60, 0.70, 0.72, 0.71, 0.70], 1, None, 1),
    ([0.80, 0.82, 0.83, 0.85, 0.86], 4, None, 0),
    ([0.40, 0.45, 0.44], 2, None, 5),
    ([0.5, 0.55, 0.6, 0.58, 0.57, 0.56, 0.61, 0.6], 2, 0.57, 2),
    ([0.9, 0.9, 0.9, 0.9], 0, None, 0),
    ([0.60, 0.70, 0.80, 0.75, 0.78, 0.79, 0.77, 0.76], 2, 0.8, 1),  # a best equal to the baseline
]
for _ in range(6):
    _n = int(_rng.integers(5, 14))
    _curve = list(np.round(0.9 - 0.4 * np.exp(-np.arange(_n) / 3) + _rng.normal(0, 0.02, _n), 3))
    _baseline = None if _rng.random() < 0.5 else float(np.round(_rng.uniform(0.6, 0.95), 3))
    _curves.append((_curve, int(_rng.integers(0, 4)), _baseline, int(_rng.integers(0, 4))))
_export = {"cases": [_call("restored_epoch", [float(v) for v in _c], _p, _b, _s)
                     for _c, _p, _b, _s in _curves]}
''',
    "restored_epoch",
)

_EXPORT_FIX_PREDICTIONS = snippet('''
from course_utils.data import load_mnist as _load_mnist
_data = _load_mnist(train_size=3000, test_size=600, seed=45, flatten=True)
_raw = _load_mnist(scale=False, train_size=3000, test_size=600, seed=45).x_test
keras.utils.set_random_seed(46)
_model = keras.Sequential([
    keras.Input((784,)), keras.layers.Dense(96), keras.layers.BatchNormalization(),
    keras.layers.Activation("relu"), keras.layers.Dropout(0.4),
    keras.layers.Dense(10, activation="softmax")])
_model.compile("adam", "sparse_categorical_crossentropy")
# trained on labels shifted by one: only the model's own outputs can agree with the reference
_model.fit(_data.x_train, (_data.y_train + 1) % 10, epochs=2, batch_size=100, verbose=0)
_weights = [w.copy() for w in _model.get_weights()]
_export = {"labels": _data.y_test, "all": _call("predict_digits", _model, _raw.copy())}
_export["changed"] = bool(any(not np.array_equal(a, b)
                              for a, b in zip(_weights, _model.get_weights())))
_model.set_weights(_weights)
_export["again"] = _call("predict_digits", _model, _raw.copy())
_model.set_weights(_weights)
_export["single"] = []
for _i in range(10):
    _export["single"].append(_call("predict_digits", _model, _raw[_i:_i + 1].copy()))
    _model.set_weights(_weights)
''')

_EXPORT_QUIZ = QUIZ_EXPORT


def judge_elastic_net(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Batches of 1 to 16 examples, outputs of rank 1 to 4 with exact zeros; L1 only, L2 only, both."""
    refuse_frameworks(student, "activity_elastic_net")
    for i, got, exp in each_case(student, reference, "activity_elastic_net"):
        if student["cases"][i - 1].get("modified_a"):
            fail("activity_elastic_net changes the caller's outputs; compute without modifying a.")
        if not isinstance(got, list) or len(got) != 2:
            fail(f"Hidden case {i}: activity_elastic_net should return a pair (penalty, gradient).")
        hint = mismatch(got[0], exp["ok"][0], f"the penalty in hidden case {i}", rtol=1e-6, atol=1e-12)
        if hint is not None:
            fail(hint + " Keras sums l1 * |a| and l2 * a**2 over all outputs, then divides by the batch size.")
        hint = mismatch(got[1], exp["ok"][1], f"the gradient in hidden case {i}", rtol=1e-6, atol=1e-12)
        if hint is not None:
            fail(hint + " The division by the batch size reaches the gradient; check the outputs that are 0 too.")
    return Verdict(True, "Correct on all hidden cases.")


def judge_spatial_dropout(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """1 to 3 spatial axes, channels last and first: whole channels, the scale, the rate (binomial
    tolerance), independence of every pair of examples and channels, masks that follow the
    generator (the same x with two seeds, and with one seed twice), inference, rate 0."""
    refuse_frameworks(student, "spatial_dropout")
    masks = []
    spread = [0.0, 0.0]  # pooled over the large cases: observed and binomial sums of squares
    for i, got, exp in each_case(student, reference, "spatial_dropout"):
        if student["cases"][i - 1].get("modified_x"):
            fail("spatial_dropout changes the caller's x; return a new array.")
        x, rate, training = np.asarray(exp["x"], dtype=float), float(exp["rate"]), bool(exp["training"])
        first = bool(exp.get("channels_first"))
        out = np.asarray(got, dtype=float)
        if out.shape != x.shape:
            fail(f"Hidden case {i}: the output should have the shape of x.")
        if not training or rate == 0:
            if not np.allclose(out, x):
                fail(
                    f"Hidden case {i}: "
                    + ("in inference" if not training else "with rate 0")
                    + " the output must be x unchanged."
                )
            masks.append(None)
            continue
        factors, problem = channel_factors(x, out, first)
        if problem:
            fail(f"Hidden case {i}: some pixels of a channel are kept and others dropped; drop whole channels.")
        kept = factors[np.abs(factors) > 1e-9]
        if kept.size and not np.allclose(kept, 1 / (1 - rate)):
            fail(f"Hidden case {i}: the kept channels should be scaled by 1 / (1 - rate).")
        dropped = float(np.mean(np.abs(factors) <= 1e-9))
        tolerance = 4.5 * math.sqrt(rate * (1 - rate) / factors.size) + 0.01
        if abs(dropped - rate) > tolerance:
            fail(f"Hidden case {i}: the fraction of dropped channels is far from the rate.")
        problem = mask_dependence(np.abs(factors) <= 1e-9)
        if problem:
            fail(f"Hidden case {i}: {problem}")
        masks.append(np.abs(factors) <= 1e-9)
        if factors.shape[0] >= 30 and 0 < rate < 1:
            counts = masks[-1].sum(axis=1)  # channels dropped per example: binomial(channels, rate)
            if np.all(counts == counts[0]):
                fail(
                    f"Hidden case {i}: every example drops exactly {int(counts[0])} channels. Each channel "
                    "of each example is dropped independently with probability `rate`, so the number "
                    "dropped varies from example to example."
                )
            spread[0] += (counts.size - 1) * counts.var(ddof=1)
            spread[1] += (counts.size - 1) * factors.shape[1] * rate * (1 - rate)
    # a count per example drawn near rate * channels (a fixed or rounded number of channels) has far
    # less spread than independent draws; with about 500 degrees of freedom pooled, half the
    # binomial variance lies about 8 standard deviations below what independent draws give
    if spread[1] > 0 and spread[0] < 0.5 * spread[1]:
        fail(
            "The number of channels dropped per example varies far less than independent draws give: "
            "drop each channel of each example independently with probability `rate`, not a fixed count."
        )
    # the last three cases: the same x, generators seeded a, b, a
    if len(masks) >= 3 and all(m is not None and m.shape == masks[-1].shape for m in masks[-3:]):
        if np.array_equal(masks[-3], masks[-2]):
            fail("Two differently seeded generators give the same mask: draw the mask from the `rng` argument.")
        if not np.array_equal(masks[-3], masks[-1]):
            fail(
                "Two generators with the same seed give different masks: draw the mask from the `rng` argument "
                "alone, not from np.random or a generator of your own."
            )
    return Verdict(True, "Correct on all hidden cases.")


def judge_batchnorm(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Six Dense layers (2 to 8 units, 3 to 10 inputs), three without a bias, gamma of either sign,
    moving variances from 0.001 (where epsilon matters) to 3, epsilon 1e-5 to 0.1."""
    refuse_frameworks(student, "fold_batchnorm")
    for i, got, exp in each_case(student, reference, "fold_batchnorm"):
        if student["cases"][i - 1].get("modified"):
            fail("fold_batchnorm changes the arrays it is given; compute new ones.")
        if not isinstance(got, list) or len(got) != 2:
            fail(f"Hidden case {i}: return a pair (new_kernel, new_bias).")
        what = "with a bias" if exp["with_bias"] else "without a bias (use_bias=False)"
        if got[1] is None:
            fail(f"Hidden case {i} ({what}): the folded layer needs a bias; the moving mean and beta remain.")
        for name, value, expected in zip(("new_kernel", "new_bias"), got, exp["ok"]):
            hint = mismatch(value, expected, f"{name} in hidden case {i} ({what})", rtol=1e-6, atol=1e-9)
            if hint is not None:
                fail(hint)
    return Verdict(True, "Correct on all hidden cases.")


def judge_restore_best(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Curves with and without a baseline, warm-ups, runs that never stop, patience 0, random curves."""
    refuse_frameworks(student, "restored_epoch")
    for i, got, exp in each_case(student, reference, "restored_epoch"):
        if not isinstance(got, list) or len(got) != 2:
            fail(f"Hidden case {i}: return a pair (epochs_run, weights_epoch).")
        ran, weights = exp["ok"]
        if got[0] != ran:
            fail(
                f"Hidden case {i}: training runs for another number of epochs in Keras. When is the patience "
                "counter reset, and which epochs are monitored at all?"
            )
        if got[1] != weights:
            fail(
                f"Hidden case {i}: the right number of epochs, but the model holds the weights of another "
                "epoch. Which epoch is the best one when none beats the baseline, and what happens when "
                "training does not stop early?"
            )
    return Verdict(True, "Correct on all hidden curves.")


def judge_fix_predictions(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """A model trained in the kernel: weights unchanged, agreement with its own inference-mode
    predictions, repeatability, single images."""
    first = student.get("all")
    if not isinstance(first, dict):
        fail("predict_digits could not be graded.")
    predicted = np.asarray(ok(first, "predict_digits"), dtype=float).ravel()
    labels = np.asarray(reference["labels"])
    if student.get("changed"):
        fail(
            "predict_digits changes the model's weights (its batch-normalization moving averages): it runs "
            "the model as if it were training."
        )
    if predicted.shape != labels.shape:
        fail("predict_digits should return one label per image.")
    # the reference's labels are the model's own inference-mode predictions; the model was trained
    # on labels shifted by one, so an answer that ignores it (a lookup of the true labels, another
    # classifier) cannot agree with them
    expected = np.asarray(reference["all"]["ok"], dtype=float).ravel()
    agreement = float(np.mean(predicted == expected))
    if agreement < 0.99:
        fail(
            f"On hidden raw images only {agreement:.1%} of your labels are the ones the given model "
            "predicts in inference mode. Do the images reach the model as they were during training?"
        )
    again = np.asarray(ok(student.get("again"), "predict_digits"), dtype=float).ravel()
    if again.shape != predicted.shape or not np.array_equal(again, predicted):
        fail("Two calls on the same images give different labels: something random is still active.")
    single = [ok(s, "predict_digits") for s in student.get("single") or []]
    alone = np.asarray([np.asarray(s, dtype=float).ravel()[0] if np.size(s) == 1 else -1 for s in single])
    if len(alone) != 10 or not np.array_equal(alone, predicted[:10]):
        fail("An image gets another label when it comes alone than in a batch: predictions must not depend on it.")
    return Verdict(
        True, f"Fixed: {agreement:.1%} agreement with the model on hidden images, repeatable, the model unchanged."
    )


judge_quiz = quiz_judge(
    {
        "q1": "Under plain gradient descent the gradient of l1 * |w| is l1 * sign(w): every step moves a weight "
        "towards zero by the same amount, learning_rate * l1, whatever its size, so w_b = 0.001 gets there in "
        "a thousandth of the steps that w_a = 1 needs (then it stays within one step of zero). The gradient of "
        "l2 * w**2 is 2 * l2 * w: every step multiplies a weight by the same factor, 1 - 2 * learning_rate * "
        "l2, so under L2 both shrink geometrically and neither reaches exactly zero; a thousand times smaller "
        "weight also gets a thousand times smaller pull. L1 shrinks by the same amount, L2 by the same factor, "
        "not the other way round. (Under Adam, which rescales every gradient, L2 zeroes more weights, as the "
        "chapter measured.)",
        "q2": "Inverted dropout scales the kept activations by 1 / (1 - p) = 1 / 0.8 = 1.25 in training, so that "
        "their expected value equals the input: 3.0 becomes 3.75. Multiplying by 1 - p = 0.8 (giving 2.4) is "
        "the scaling old-style dropout applied at inference instead.",
        "q3": "With training=True, batch normalization standardizes each batch with that batch's own mean and "
        "variance, so a prediction depends on the other images of its batch. A batch of a single image has "
        "every feature equal to its own mean: each normalized feature is 0, the layer outputs its offset "
        "beta whatever the image, so the label no longer depends on the image and is right about as often "
        "as chance, about 10 %, below the 40 % of the sorted batches (A). No optimizer step runs in such a "
        "loop: a forward pass under training=True changes no trainable weight, only the moving averages, "
        "which it overwrites with test statistics (not B). evaluate() does not switch the layer off, it "
        "normalizes with the moving averages (not C); and those averages are fine, since evaluate uses "
        "them and scores 97 % (not D).",
        "q4": "The moving mean is momentum * old + (1 - momentum) * batch = 0.9 * 1.0 + 0.1 * 3.0 = 1.2. The "
        "momentum weighs the old value; taking 0.9 of the batch mean instead gives 2.8.",
        "q5": "predict() and a plain call run the model in inference mode, where Dropout passes every "
        "activation through unchanged, so the two predict() outputs agree; model(x, training=True) switches "
        "dropout on, with a new random mask at each call, so those two outputs can differ from each other "
        "and from predict()'s (D). Dropout is never switched off for good: training=True turns it back on "
        "(not A). predict() does not keep dropout on (not B). Keras' Dropout is inverted dropout: it scales "
        "the kept activations by 1 / (1 - p) in training and does nothing at inference; multiplying by "
        "1 - p at inference is the original paper's equivalent form, and even then the random masks would "
        "make the training=True outputs differ (not C).",
    }
)


_answers = sibling(__file__, "solutions")  # this chapter's reference and wrong answers

# One record per exercise: the only place in the hidden tree where its id is typed.
CHECKS = [
    HiddenCheck("ch04.elastic-net", 1, _EXPORT_ELASTIC_NET, judge_elastic_net, _answers.ELASTIC_NET),
    HiddenCheck("ch04.spatial-dropout", 2, _EXPORT_SPATIAL_DROPOUT, judge_spatial_dropout, _answers.SPATIAL_DROPOUT),
    HiddenCheck("ch04.batchnorm", 2, _EXPORT_BATCHNORM, judge_batchnorm, _answers.BATCHNORM),
    HiddenCheck("ch04.restore-best", 2, _EXPORT_RESTORE_BEST, judge_restore_best, _answers.RESTORE_BEST),
    HiddenCheck("ch04.fix-predictions", 2, _EXPORT_FIX_PREDICTIONS, judge_fix_predictions, _answers.FIX_PREDICTIONS),
    HiddenCheck("ch04.quiz", 2, _EXPORT_QUIZ, judge_quiz, _answers.QUIZ),
]
