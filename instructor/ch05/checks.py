"""Hidden checks for chapter 5, "Putting it all together" (instructors only).

The format is chapter 0's (see instructor/ch00/checks.py and the instructors' page): an export
snippet per exercise, run in the student's kernel through the kit's ``_call``, and a judge
per exercise, run in the grader's process against the reference solution's export.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_utils.checking import Verdict, fail
from course_utils.exercises.ch05 import cutout_problem
from course_utils.grading.kit import (
    QUIZ_EXPORT,
    HiddenCheck,
    each_case,
    mismatch,
    numpy_only,
    quiz_judge,
    refuse_frameworks,
    sibling,
    snippet,
)

# Imports every snippet may rely on (the exercise section's first cell imports the same).
PRELUDE = "import numpy as np\nimport tensorflow as tf\nimport keras\n"

_EXPORT_TTA = snippet('''
_rng = np.random.default_rng(54)
_model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                           keras.layers.Dropout(0.5), keras.layers.Dense(10)])
_model.set_weights([_rng.normal(0, 0.3, (784, 10)).astype("float32"),
                    _rng.normal(0, 0.1, 10).astype("float32")])
_export = {"cases": []}
for _n, _shifts in [(8, [(0, 0)]), (8, [(3, 0), (-3, 0)]), (8, [(0, 4), (0, -4)]),
                    (1, [(2, -1), (-1, 2), (0, 0)]), (5, [(-5, -5), (6, 1), (1, 6)])]:
    _x = _rng.uniform(0, 1, (_n, 28, 28, 1)).astype("float32")
    _x_before = _x.copy()
    _case = _call("tta_predict", _model, _x, list(_shifts))
    _case["modified"] = bool(not np.array_equal(_x, _x_before))
    _export["cases"].append(_case)
''')

_EXPORT_CUTOUT = numpy_only(
    '''
_rng = np.random.default_rng(55)
_export = {"cases": []}
for _shape, _size in [((300, 16, 16), 7), ((300, 20, 14), 4), ((150, 12, 12, 3), 5),
                      ((200, 10, 10), 1), ((1, 28, 28), 28)]:
    _x = _rng.uniform(0.2, 1.0, _shape).astype("float32")
    _x_before = _x.copy()
    _seed = int(_rng.integers(1000))
    _case = _call("cutout", _x, _size, np.random.default_rng(_seed))
    _case.update(shape=list(_shape), size=_size, modified=bool(not np.array_equal(_x, _x_before)))
    _again = _call("cutout", _x_before.copy(), _size, np.random.default_rng(_seed))
    if "ok" in _case and np.shape(_case["ok"]) == _shape:
        _out = np.asarray(_case["ok"])
        _case["repeatable"] = bool("ok" in _again and np.array_equal(np.asarray(_again["ok"]), _out))
        _case["zeros"] = bool(np.all(_out[_out != _x_before] == 0))
        _case["ok"] = (_out != _x_before).astype("uint8")  # the cut pixels, compactly
    elif "ok" in _case:
        _case["ok"] = {"__shape__": list(np.shape(_case["ok"]))}
    _export["cases"].append(_case)
''',
    "cutout",
)

_EXPORT_FIX_SETUP = snippet('''
from course_utils.exercises.ch05 import loss_value as _loss_value, rate_at as _rate_at
_rng = np.random.default_rng(56)
_export = {"cases": []}
for _peak, _epochs, _spe, _wf, _smooth, _wd in [(6e-3, 6, 235, 0.1, 0.1, 1e-4),
                                                (2e-3, 3, 40, 0.25, 0.05, 5e-4),
                                                (1e-2, 10, 17, 0.2, 0.2, 1e-3),
                                                (3e-4, 2, 50, 0.05, 0.0, 2e-4)]:
    _case = _run("make_optimizer_and_loss", _peak, _epochs, _spe, _wf, _smooth, _wd)
    if "ok" in _case:
        _pair = _case.pop("ok")
        try:
            _opt, _loss = _pair
            _total, _warm = _epochs * _spe, int(round(_wf * _epochs * _spe))
            _steps = [0, _warm // 3, _warm - 1, _warm, _warm + (_total - _warm) // 3, _total // 2,
                      _total - 2, _total - 1, _total, _total + 50]
            _labels = _rng.integers(0, 10, 7).astype("int32")
            _logits = _rng.normal(0, 4, (7, 10)).astype("float32")
            _case["ok"] = {
                "kind": type(_opt).__name__,
                "decay": float(getattr(_opt, "weight_decay", None) or 0.0),
                "rates": [_rate_at(_opt, _s) for _s in _steps],
                "loss": _loss_value(_loss, _labels, _logits),
                "single": _loss_value(_loss, _labels[:1], _logits[:1]),
            }
        except Exception as _err:
            _case["error"] = f"{type(_err).__name__}: {_err}"
    _export["cases"].append(_case)
_fit = _run("make_optimizer_and_loss", 1e-3, 1, 4, 0.25, 0.1, 1e-4)
if "ok" in _fit:
    try:  # the pair must also work in compile and fit
        keras.utils.set_random_seed(57)
        _net = keras.Sequential([keras.Input((6,)), keras.layers.Dense(10)])
        _net.compile(optimizer=_fit["ok"][0], loss=_fit["ok"][1])
        _hist = _net.fit(_rng.normal(size=(32, 6)).astype("float32"), _rng.integers(0, 10, 32),
                         batch_size=8, epochs=1, verbose=0)
        _fit = {"ok": bool(np.isfinite(_hist.history["loss"][-1]))}
    except Exception as _err:
        _fit = {"error": f"{type(_err).__name__}: {_err}"}
_export["fit"] = _fit
''')

_EXPORT_RACE_WINNER = snippet('''
def _runs(per_epoch, accuracies):
    """One run per seed: cumulative seconds and accuracy at the end of every epoch."""
    return [[(round(per_epoch * (i + 1), 3), a) for i, a in enumerate(acc)] for acc in accuracies]
_races = [
    ({"small": _runs(3.0, [[0.97, 0.985, 0.991, 0.993], [0.968, 0.984, 0.990, 0.992],
                           [0.97, 0.986, 0.991, 0.994]]),
      "big": _runs(11.0, [[0.988, 0.992], [0.989, 0.993], [0.987, 0.991]])}, 0.99),
    ({"steady": _runs(8.0, [[0.99, 0.994, 0.995, 0.995], [0.99, 0.993, 0.995, 0.996],
                            [0.991, 0.994, 0.995, 0.996]]),
      "lucky": _runs(6.0, [[0.992, 0.995, 0.996], [0.99, 0.992, 0.993], [0.989, 0.993, 0.994]]),
      "late": _runs(9.0, [[0.99, 0.993, 0.995, 0.997], [0.99, 0.994, 0.996, 0.997],
                          [0.99, 0.993, 0.994, 0.995]])}, 0.995),
    ({"a": _runs(5.0, [[0.97, 0.98, 0.985]]), "b": _runs(2.0, [[0.96, 0.97, 0.98, 0.982]])}, 0.99),
    ({"only": _runs(7.5, [[0.95, 0.99, 0.98]])}, 0.99),
    ({"x": [[(4.0, 0.97), (9.0, 0.98)], [(4.0, 0.98)], [(5.0, 0.97), (30.0, 0.98)],
            [(4.5, 0.98)], [(6.0, 0.98)]],
      "y": [[(7.0, 0.98)], [(7.0, 0.981)], [(7.5, 0.98)], [(6.5, 0.982)], [(7.0, 0.99)]],
      "z": [[(2.0, 0.97), (4.0, 0.975)], [(2.0, 0.98)], [(2.0, 0.981)], [(2.0, 0.98)], [(2.0, 0.98)]]},
     0.98),
    ({"p": _runs(10.0, [[0.985, 0.992], [0.99, 0.991]]),
      "q": _runs(4.0, [[0.97, 0.98, 0.99, 0.992], [0.96, 0.99, 0.991, 0.992]])}, 0.99),
]
_export = {"cases": [_call("race_winner", {k: [list(r) for r in v] for k, v in _r.items()}, _t)
                     for _r, _t in _races]}
''')

_EXPORT_QUIZ = QUIZ_EXPORT


def judge_tta(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """No shift, shifts along one axis each way, a batch of one, large shifts; input untouched."""
    for i, got, exp in each_case(student, reference, "tta_predict"):
        if student["cases"][i - 1].get("modified"):
            fail("tta_predict changes the caller's images; shift copies of them.")
        probs, expected = np.asarray(got, dtype=float), np.asarray(exp["ok"])
        if probs.shape != expected.shape:
            fail(f"Hidden case {i}: return one row of 10 class probabilities per image.")
        if not np.allclose(probs.sum(axis=-1), 1.0, atol=1e-4):
            fail(f"Hidden case {i}: the rows do not sum to 1; the model outputs logits, return probabilities.")
        hint = mismatch(probs, expected, f"the probabilities in hidden case {i}", rtol=1e-4, atol=1e-5)
        if hint is not None:
            fail(
                hint
                + (
                    " Without any shift, they should be the model's own probabilities in inference mode."
                    if i == 1
                    else " Check the direction and the axis of each shift, the zero fill and the averaging."
                )
            )
    return Verdict(True, "Correct on all hidden cases.")


def judge_cutout(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Properties on five hidden shapes: one clipped square per image, spread centres, repeatable."""
    refuse_frameworks(student, "cutout")
    for i, got, exp in each_case(student, reference, "cutout"):
        case = student["cases"][i - 1]
        if case.get("modified"):
            fail("cutout changes the caller's images; cut the squares out of a copy.")
        shape, size = tuple(exp["shape"]), int(exp["size"])
        if isinstance(got, dict) or np.shape(got) != shape:
            fail(f"Hidden case {i}: the output should have the shape of the images.")
        if not case.get("zeros"):
            fail(f"Hidden case {i}: some changed pixels are not 0; Cutout sets the square to zero.")
        cut = np.asarray(got).astype(bool)
        images = np.ones(shape)
        problem = cutout_problem(images, np.where(cut, 0.0, 1.0), size, f"Hidden case {i}: ", shape[0] >= 100)
        if problem:
            fail(problem)
        if not case.get("repeatable"):
            fail(f"Hidden case {i}: two calls with generators seeded alike give different squares; use rng.")
    return Verdict(True, "Correct on all hidden cases.")


def judge_fix_setup(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Four hidden settings: the optimizer, the rate at ten steps, the loss; then one fit with the pair."""
    for i, got, exp in each_case(student, reference, "make_optimizer_and_loss"):
        expected = exp["ok"]
        if not isinstance(got, dict) or "rates" not in got:
            fail(f"Hidden case {i}: make_optimizer_and_loss should return a pair (optimizer, loss).")
        if got["kind"] != expected["kind"]:
            fail(f"Hidden case {i}: the optimizer is {got['kind']}; the recipe uses AdamW.")
        if not math.isclose(got["decay"], expected["decay"], rel_tol=1e-6):
            fail(f"Hidden case {i}: the optimizer's weight decay is not the one asked for.")
        rates, right = np.asarray(got["rates"], dtype=float), np.asarray(expected["rates"])
        if not np.allclose(rates, right, rtol=1e-4, atol=1e-5 * float(np.max(right))):  # float32 cosines
            if np.any((rates[3:-2] == 0) & (right[3:-2] > 0)):
                fail(f"Hidden case {i}: the learning rate falls to 0 long before the end of training.")
            if not np.allclose(rates[:3], right[:3], rtol=1e-4, atol=1e-10):
                fail(f"Hidden case {i}: the warm-up is wrong: how many steps does it last?")
            fail(f"Hidden case {i}: after the warm-up the cosine does not end at 0 on the last step.")
        for key, what in (("loss", "a batch of 7"), ("single", "a batch of one")):
            hint = mismatch(got[key], expected[key], f"the loss on {what} in hidden case {i}", rtol=1e-4, atol=1e-6)
            if hint is not None:
                fail(hint + " Does it read the outputs as logits, and smooth the targets as asked?")
    fit = student.get("fit")
    if not isinstance(fit, dict) or fit.get("ok") is not True:
        problem = fit.get("error") if isinstance(fit, dict) else None
        fail("The optimizer and loss do not train a model with compile and fit" + (f": {problem}." if problem else "."))
    return Verdict(True, "Correct on all hidden cases, and the pair trains a model with fit.")


def judge_race_winner(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Six hidden races: seconds against epochs, lucky and slow seeds, no winner, a dip after the target."""
    for i, got, exp in each_case(student, reference, "race_winner", allow_none=True):
        if got != exp["ok"]:
            if exp["ok"] is None:
                fail(f"Hidden race {i}: no recipe reaches the target in every run, but you name a winner.")
            if got is None:
                fail(f"Hidden race {i}: you find no winner, but one recipe reaches the target in every run.")
            fail(
                f"Hidden race {i}: another recipe reaches the target first in typical wall-clock time. Think of "
                "the seconds, every seed, the typical seed, and of the first epoch at or above the target."
            )
    return Verdict(True, "Correct on all hidden races.")


judge_quiz = quiz_judge(
    {
        "q1": "The recipes do different amounts of work per epoch: a convolutional network with augmentation "
        "can take several times as long per epoch as a small dense network, and a smaller batch size means more "
        "steps per epoch. Counting epochs hides that cost; seconds on the same machine include it. Seconds vary "
        "from run to run, an epoch count does not; Keras counts an epoch as one pass over the data whatever the "
        "batch size; and accuracy after an epoch is comparable between optimizers, it just ignores the cost of "
        "the epoch.",
        "q2": "Recipe P needs 4 epochs of 30 s, 120 s; recipe Q needs 9 epochs of 12 s, 108 s. Q "
        "gets there 12 s sooner, although it needs more than twice as many epochs. Comparing epochs (4 against "
        "9) would pick P.",
        "q3": "Picking the best of ten test accuracies uses the test set to choose the epoch: the maximum of ten "
        "noisy measurements is biased upwards, so 99.56 % overstates what the model does on new images. Choose "
        "the epoch on validation data (or fix the number of epochs in advance) and measure the test set once. "
        "Evaluating does not change the weights, and averaging over epochs answers another question.",
        "q4": "Adam divides each step by the square root of its running average of squared gradients. In the "
        "first steps that average rests on a handful of gradients (bias correction rescales it, but cannot add "
        "information), so some weights get steps far larger than intended; at a high peak rate they throw the "
        "network into a bad region. Warm-up keeps the steps small until the estimates have settled. Batch "
        "normalization's moving averages are used only at inference and do not steer training; weight decay "
        "acts from the first step; dropout masks are drawn anew at every step of every epoch.",
        "q5": "With batch 2048 an epoch has 8 times fewer steps, so 13 epochs give 8 times fewer updates, and "
        "at the same peak rate each is no larger than before: the network travels a much shorter way and ends "
        "less accurate. The less noisy gradient does not make up for the missing steps unless the rate grows "
        "with the batch (the linear scaling rule, with warm-up), up to where that breaks down. Nothing makes it "
        "diverge at the same rate, and batch normalization works well with large batches.",
        "q6": "The evaluations are the measuring instrument of the race: a recipe used in practice trains "
        "without them, and counting them would penalize a recipe for how often it is measured (or how large the "
        "test set is) rather than for how fast it learns. Evaluation runs on the same hardware and is not free: "
        "a pass over 10,000 test images costs a small but real part of an epoch.",
    }
)


_answers = sibling(__file__, "solutions")  # this chapter's reference and wrong answers

# One record per exercise: the only place in the hidden tree where its id is typed.
CHECKS = [
    HiddenCheck("ch05.tta", 2, _EXPORT_TTA, judge_tta, _answers.TTA),
    HiddenCheck("ch05.cutout", 2, _EXPORT_CUTOUT, judge_cutout, _answers.CUTOUT),
    HiddenCheck("ch05.fix-setup", 2, _EXPORT_FIX_SETUP, judge_fix_setup, _answers.FIX_SETUP),
    HiddenCheck("ch05.race-winner", 2, _EXPORT_RACE_WINNER, judge_race_winner, _answers.RACE_WINNER),
    HiddenCheck("ch05.quiz", 2, _EXPORT_QUIZ, judge_quiz, _answers.QUIZ),
]
