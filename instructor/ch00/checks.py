"""Hidden checks for chapter 0, "Getting started" (instructors only).

PRELUDE  -- imports run before every snippet (the exercise section imports the same).
CHECKS   -- one ``HiddenCheck`` record per exercise, the only place its id is typed here:
            its points; its export snippet, run in the student's kernel after the exercise
            section (hidden inputs with fixed seeds, the student's code called through the kit's
            ``_call``, which never raises, and a JSON-able value left in ``_export``); its judge,
            ``judge(student_export, reference_export) -> Verdict``, run in the grader's process
            (the reference export is the same snippet run on the reference solution); and its
            ``Answers`` from solutions.py.

Judges use the same idiom as the visible checks (``fail``, ``diagnose``); their messages name
the mistake and never reveal hidden inputs or expected values.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from typing import Any

import numpy as np

from course_utils.checking import Verdict, fail
from course_utils.exercises import ch00 as public
from course_utils.grading.kit import (
    QUIZ_EXPORT,
    HiddenCheck,
    each_case,
    numpy_only,
    quiz_judge,
    refuse_frameworks,
    sibling,
    snippet,
)

PRELUDE = "import numpy as np\nimport keras\n"

_EXPORT_TOP_K_ACCURACY = numpy_only(
    '''
_rng = np.random.default_rng(2101)
_export = {"cases": []}
for _n, _c, _k in [(60, 10, 3), (25, 5, 1), (9, 4, 4), (40, 10, 5), (1, 3, 2)]:
    _probs = _rng.dirichlet(np.ones(_c), size=_n).astype("float32")
    _labels = _rng.integers(0, _c, size=_n)
    _case = _call("top_k_accuracy", _probs.copy(), _labels.copy(), _k)
    _case["n"], _case["k"], _case["c"] = _n, _k, _c
    _export["cases"].append(_case)
''',
    "top_k_accuracy",
)

_EXPORT_EARLY_STOPPING = numpy_only(
    '''
_rng = np.random.default_rng(2102)
_export = {"cases": []}
_curves = []
for _ in range(4):  # noisy curves that fall, then rise
    _t = np.arange(1, 26)
    _curves.append(0.05 + 1.5 / _t + 0.004 * _t + _rng.normal(0, 0.01, size=_t.size))
_curves.append(np.linspace(1.0, 0.2, 12))                        # never stops
_curves.append(np.array([1.0, 0.8, 0.795, 0.7905, 0.788, 0.786, 0.7, 0.69, 0.689, 0.688, 0.7]))  # no ties at best - d
_curves.append(np.array([0.8, 0.6, 0.55, 0.55, 0.57, 0.58, 0.6]))  # a tie with the best is no improvement
_curves.append(np.array([1.2, 0.9, 0.86, 0.83, 0.81, 0.8, 0.79, 0.785, 0.78]))  # the reference does not creep
_patiences, _deltas = [2, 3, 5, 1, 2, 2, 2, 3], [0.0, 0.0, 0.002, 0.0, 0.0, 0.01, 0.0, 0.05]
for _curve, _patience, _delta in zip(_curves, _patiences, _deltas):
    _values = [float(v) for v in np.round(_curve, 5)]
    _case = _call("early_stopping", list(_values), _patience, _delta)
    _case["patience"], _case["epochs"] = _patience, len(_values)
    _export["cases"].append(_case)
''',
    "early_stopping",
)

_EXPORT_SPLIT_AND_SCALE = snippet('''
_export = {"cases": []}
for _n, _n_val, _seed, _shape, _top in [(300, 60, 7, (4, 4), 255), (120, 100, 8, (3, 5), 255),
                                        (50, 1, 9, (2, 2), 200)]:
    _ids = np.arange(_n)
    _images = np.zeros((_n,) + _shape, dtype="uint8")
    _images[:, 0, 0], _images[:, 0, 1] = _ids // 256, _ids % 256   # each image says who it is
    _images[:, -1, -1] = _top - 40 * (_ids % 3)   # no pixel of the last case reaches 255
    _labels = np.sort(np.random.default_rng(_seed).integers(0, 10, size=_n)).astype("uint8")
    _before = (_images.copy(), _labels.copy())
    _global = np.random.get_state()[1].copy()
    _case = _call("split_and_scale", _images, _labels, _n_val, _seed)
    _case["global_state_changed"] = bool(not np.array_equal(_global, np.random.get_state()[1]))
    _again = _call("split_and_scale", _before[0].copy(), _before[1].copy(), _n_val, _seed)
    _other = _call("split_and_scale", _before[0].copy(), _before[1].copy(), _n_val, _seed + 100)
    _case["same_seed_same_result"] = repr(_again.get("ok")) == repr(_case.get("ok"))
    _case["other_seed_same_result"] = repr(_other.get("ok")) == repr(_case.get("ok"))
    _case["inputs_changed"] = bool(not np.array_equal(_images, _before[0])
                                   or not np.array_equal(_labels, _before[1]))
    _case["labels"], _case["n_val"], _case["top"] = _before[1], _n_val, _top
    _export["cases"].append(_case)
''')

_EXPORT_TRAIN_WITHIN_BUDGET = snippet('''
# Only the recipe leaves the student's kernel: the grader builds, trains and measures its model.
_export = _call("choose_recipe")
''')

_EXPORT_QUIZ = QUIZ_EXPORT


# Test accuracy to reach, on all 10,000 test images, for the recipe trained by the grader (seed
# GRADE_SEED) on the 55,000 training images. Measured (validation / test accuracy, by seed): the
# reference (25 units, batch 512, 18 epochs, Adam 0.01 cosine), seeds 0-4: 97.1/96.5, 96.6/96.1,
# 96.7/96.3, 97.1/96.5, 96.9/96.4 %; the chapter's recipe narrowed to 25 units (Adam 1e-3), batch 64
# for 2 epochs, seeds 0-2: 95.0/93.8, 95.3/94.1, 94.5/92.9 %; batch 128 for 4 epochs, seeds 0-4:
# 95.7/94.2, 95.7/94.4, 95.1/93.9, 95.6/94.2, 95.4/94.3 %.
TARGET = public.TEST_TARGET
HALF_BAND = 0.008  # half marks from 94.7 %: above every seed of the narrowed recipes
GRADE_SEED = 80417  # not published, and not a small number to guess: no tuning on the graded model


@functools.lru_cache(maxsize=64)
def _test_accuracy(recipe_json: str) -> float:
    """Test accuracy of a checked recipe, trained in a child of the grader (Keras stays out of it)."""
    code = (
        "import json, sys\n"
        "import numpy as np\n"
        "from course_utils.data import load_mnist\n"
        "from course_utils.exercises.ch00 import train_recipe\n"
        "data = load_mnist(validation=5000)\n"
        f"model = train_recipe(json.loads(sys.argv[1]), data.x_train, data.y_train, {GRADE_SEED})\n"
        "probs = np.asarray(model.predict(data.x_test, verbose=0))\n"
        "print(float(np.mean(probs.argmax(axis=1) == data.y_test)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, recipe_json], capture_output=True, text=True, timeout=900, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def judge_top_k_accuracy(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Five hidden batches: k = 1, k = the number of classes, a single example; NumPy only."""
    refuse_frameworks(student, "top_k_accuracy")
    for i, got, exp in each_case(student, reference, "top_k_accuracy"):
        value = np.asarray(got, dtype=float)
        if value.shape != ():
            fail(f"Hidden case {i}: top_k_accuracy returned an array of shape {value.shape}; return one number.")
        expected = float(exp["ok"])
        if np.isclose(value, expected):
            continue
        if exp["n"] > 1 and np.isclose(value, expected * exp["n"]):
            fail("top_k_accuracy returned the number of hits; divide by the number of examples.")
        if exp["k"] == exp["c"]:
            fail("With k equal to the number of classes every label is in the top k, so the result must be 1.0.")
        fail(
            f"Hidden case {i}: wrong value. Is the label among the k *largest* "
            "probabilities of its row? Count the classes ranked above it, not the label itself."
        )
    return Verdict(True, "Correct on all hidden cases, k = 1 and k = number of classes included.")


def judge_early_stopping(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Noisy curves with several patiences, a curve that never stops, a plateau within min_delta, a tie
    with the best value and a slow descent that only the last improvement's value (not the lowest value
    seen) lets through; by hand."""
    refuse_frameworks(
        student,
        "early_stopping",
        "early_stopping runs Keras (its EarlyStopping callback, or another part of it): replay the "
        "rule by hand, with plain Python or NumPy.",
    )
    for i, got, exp in each_case(student, reference, "early_stopping"):
        if not isinstance(got, list) or len(got) != 2:
            fail("early_stopping should return a tuple (stop_epoch, best_epoch).")
        stop, best = got
        exp_stop, exp_best = exp["ok"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (stop, best)):
            fail(f"Hidden case {i}: the two epochs should be integers, got {stop!r} and {best!r}.")
        if (stop, best) == (exp_stop, exp_best):
            continue
        if (stop + 1, best + 1) == (exp_stop, exp_best):
            fail("The epochs are 0-based: count them from 1, as Keras prints them.")
        if best == exp_best and stop == exp_stop + 1:
            fail("Training stops one epoch late: stop as soon as `patience` epochs in a row brought no improvement.")
        if stop > exp_stop:
            fail(
                f"Hidden case {i}: training goes on too long. An epoch improves only when it lies more than "
                "min_delta below the reference (the value of the last improving epoch), not merely below the "
                "epoch before it; a value equal to the reference is no improvement."
            )
        if stop < exp_stop:
            fail(
                f"Hidden case {i}: training stops too early. Does an epoch that lies more than min_delta below "
                "the reference reset the count of epochs without improvement? The reference changes only at "
                "an improving epoch, not at every new lowest value."
            )
        fail(f"Hidden case {i}: right stopping epoch, wrong best epoch.")
    return Verdict(True, "Correct on all hidden curves, and consistent with keras.callbacks.EarlyStopping.")


def judge_split_and_scale(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Properties on hidden data whose images carry their own id: pairs kept, scaled, shuffled, repeatable."""
    for i, got, exp in each_case(student, reference, "split_and_scale"):
        case = student["cases"][i - 1]
        try:
            (x_train, y_train), (x_val, y_val) = got
        except (TypeError, ValueError):
            fail("split_and_scale should return ((x_train, y_train), (x_val, y_val)).")
        x_train, x_val = np.asarray(x_train), np.asarray(x_val)
        y_train, y_val = np.asarray(y_train), np.asarray(y_val)
        n, n_val = len(exp["labels"]), exp["n_val"]
        if len(x_val) != n_val or len(y_val) != n_val or len(x_train) != n - n_val or len(y_train) != n - n_val:
            fail(
                f"Hidden case {i}: the validation set should hold the last n_val examples and the training set "
                "the others; the sizes are wrong."
            )
        if case["inputs_changed"]:
            fail("split_and_scale changes the caller's arrays (rng.shuffle works in place); leave them untouched.")
        if x_train.dtype != np.float32 or x_val.dtype != np.float32:
            fail(
                f"The images are {x_train.dtype}, expected float32: dividing uint8 by 255 gives float64, "
                "twice the memory Keras needs."
            )
        if x_train.ndim != 3 or x_val.ndim != 3:
            fail("The images changed shape: keep them as they came, (n, height, width); only scale and shuffle.")
        x = np.concatenate([x_train, x_val]) * 255
        corners = {exp["top"] - 40 * k for k in range(3)}
        if x.max() > 255.5 or not all(np.any(np.isclose(c, list(corners), atol=0.01)) for c in x[:, -1, -1]):
            fail(
                f"Hidden case {i}: the pixels are not the original ones divided by 255 (dividing by the "
                "largest pixel, or by each image's own range, is another scaling)."
            )
        ids = np.rint(x[:, 0, 0]).astype(int) * 256 + np.rint(x[:, 0, 1]).astype(int)
        if sorted(ids.tolist()) == list(range(n)) and not np.allclose(
            x[:, -1, -1], exp["top"] - 40 * (ids % 3), atol=0.01
        ):
            fail(f"Hidden case {i}: the pixels are not the original ones divided by 255.")
        if sorted(ids.tolist()) != list(range(n)):
            fail(
                f"Hidden case {i}: some images are missing or repeated: every example must land in exactly "
                "one of the two sets."
            )
        labels = np.asarray(exp["labels"])
        if not np.array_equal(labels[ids], np.concatenate([y_train, y_val])):
            fail("Images and labels are no longer paired: shuffle both with the same permutation.")
        if ids[: n - n_val].tolist() == list(range(n - n_val)):
            fail("The examples are not shuffled: on sorted data the validation set would be one class only.")
        if n > 20 and np.mean(np.isin(np.diff(ids) % n, (1, n - 1))) > 0.5:
            fail(
                f"Hidden case {i}: most examples still follow their neighbour in the original order (a "
                "rotation or a shift is not a shuffle): on sorted data the validation set would hold one or "
                "two classes. Shuffle with a random permutation."
            )
        if n_val >= 50 and len(set(np.asarray(y_val).tolist())) < 6:
            fail(
                f"Hidden case {i}: the validation set holds only {len(set(np.asarray(y_val).tolist()))} of the "
                "classes: the examples are not well shuffled before the split (on sorted data a real shuffle "
                "gives nearly every class)."
            )
        if n_val > 1 and sorted(ids[n - n_val :].tolist()) == list(range(n - n_val, n)):
            fail(
                f"Hidden case {i}: the validation set is the last n_val examples, in some order: only the "
                "training part was shuffled. Shuffle the whole data set, then split it; on sorted data the "
                "validation set would be one class only."
            )
        if case.get("global_state_changed"):
            fail(
                "split_and_scale draws from NumPy's global random state (np.random.seed, np.random.permutation). "
                "Use rng = np.random.default_rng(seed): it changes no one else's random numbers."
            )
        if not case["same_seed_same_result"]:
            fail(
                "Two calls with the same seed give different splits: draw the permutation from "
                "np.random.default_rng(seed)."
            )
        if case["other_seed_same_result"] and n_val < n - 1:
            fail("Different seeds give the same split: use the seed you are given.")
    return Verdict(True, "The pipeline is fixed: pairs kept, scaled float32, shuffled by the seed, inputs untouched.")


def judge_train_within_budget(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """The recipe's form and budget, then its model trained here and measured on the 10,000 test images."""
    if "error" in student:
        fail(f"choose_recipe could not be called: {student['error']}")
    recipe = student.get("ok")
    problem = public.recipe_problem(recipe) or public.budget_problem(recipe)
    if problem:
        fail(problem)
    plain = {k: recipe[k] for k in public.RECIPE_FIELDS}
    plain["widths"] = [int(w) for w in plain["widths"]]
    plain["learning_rate"] = float(plain["learning_rate"])
    steps = public.recipe_steps(plain["batch_size"], plain["epochs"])
    accuracy = _test_accuracy(json.dumps(plain, sort_keys=True))
    if accuracy >= TARGET:
        return Verdict(True, f"Test accuracy {accuracy:.1%} on the hidden images, in {steps:,} steps.")
    if accuracy >= TARGET - HALF_BAND:
        return Verdict(
            False,
            f"Test accuracy {accuracy:.1%}: close, but below {TARGET:.1%} ({steps:,} steps). With few "
            "steps, each must count: how many epochs do your steps buy, and how large a learning rate "
            "did your validation runs support?",
            score=0.5,
        )
    return Verdict(
        False,
        f"Test accuracy {accuracy:.1%}, far below {TARGET:.1%} ({steps:,} steps). Count the epochs your "
        "steps buy (an epoch makes ceil(55,000 / batch_size) steps), and compare learning rates on "
        "the validation images.",
        score=0.0,
    )


judge_quiz = quiz_judge(
    {
        "q1": "D. Each validation score is the configuration's true accuracy plus the luck of these 5,000 "
        "images, and the largest of 40 such scores is the one with the most luck on top. Picking the best "
        "of 40 configurations on the same images favours the one whose mistakes happened to miss them, "
        "so the winner's validation accuracy is an optimistic estimate; on new images expect somewhat less. "
        "A: fit never trains on validation_data, true, but the choice among the 40 used those images, "
        "and that choice is what fits their quirks. "
        "B: early stopping is itself a choice made on the validation images (the epoch), so it adds to the "
        "selection instead of removing it. C: the optimism comes from the selection, not from overfitting "
        "the training images; it appears even when the training and validation curves lie close together. "
        "Only images used for no decision (a test set, read once) give an unbiased estimate.",
        "q2": "A. The validation loss is the mean of -log p_y over the same 5,000 images (validation_data is "
        "fixed), so if it rose, the probability p_y of the true digit fell on at least one image. B: the "
        "rise can come from images it gets right, whose p_y fell a little, and the 110 misclassified "
        "images need not be the same ones after both epochs, so no wrong answer has to grow more confident. "
        "C: a "
        "misclassified image does not cost a fixed amount: its -log p_y grows when the wrong answer grows "
        "more confident, so the rise can come entirely from the images it gets wrong (as in this chapter's "
        "run). D: fit evaluates the same validation_data after every epoch, with no sampling; accuracy only "
        "asks which digit wins, the loss also asks how much probability the true digit keeps.",
        "q3": "The sparse categorical cross-entropy of one image is -ln p_y, and Keras reports the mean over "
        "the batch: (-ln 0.9 - ln 0.5 - ln 0.8 - ln 0.1) / 4 = (0.105 + 0.693 + 0.223 + 2.303) / 4, "
        "about 0.831. The one image with p_y = 0.1 contributes more than the other three together.",
        "q4": "EarlyStopping waits patience = 2 epochs without improvement after the best epoch 4, so fit "
        "runs 6 epochs. Each epoch makes one update per batch: 50,000 / 96 = 520.8, and the last, "
        "smaller batch is a batch too, so 521 updates (Keras rounds up). In all 6 x 521 = 3,126.",
    },
    tolerances={"q4": 0},  # a count: 3,120 (rounding 520.8 down) is the very mistake q4 asks about
)


_answers = sibling(__file__, "solutions")  # this chapter's reference and wrong answers

# One record per exercise: the only place in the hidden tree where its id is typed.
CHECKS = [
    HiddenCheck("ch00.top-k-accuracy", 1, _EXPORT_TOP_K_ACCURACY, judge_top_k_accuracy, _answers.TOP_K_ACCURACY),
    HiddenCheck("ch00.early-stopping", 2, _EXPORT_EARLY_STOPPING, judge_early_stopping, _answers.EARLY_STOPPING),
    HiddenCheck("ch00.split-and-scale", 2, _EXPORT_SPLIT_AND_SCALE, judge_split_and_scale, _answers.SPLIT_AND_SCALE),
    HiddenCheck(
        "ch00.train-within-budget",
        2,
        _EXPORT_TRAIN_WITHIN_BUDGET,
        judge_train_within_budget,
        _answers.TRAIN_WITHIN_BUDGET,
    ),
    HiddenCheck("ch00.quiz", 2, _EXPORT_QUIZ, judge_quiz, _answers.QUIZ),
]
