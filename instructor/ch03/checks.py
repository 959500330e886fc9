"""Hidden checks for chapter 3, "Optimizers" (instructors only).

The format is chapter 0's (see instructor/ch00/checks.py and the instructors' page): an export
snippet per exercise, run in the student's kernel through the kit's ``_call``, and a judge
per exercise, run in the grader's process. The optimizer exercises are judged against
``keras.optimizers`` run here, in the grader's process, on the hidden gradients the snippet
recorded; the schedule against its closed form; the learning rate by training with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checking import Verdict, fail
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

_oracles = sibling(__file__, "oracles")  # instructor/ch03/oracles.py: Keras and the closed form

# Imports every snippet may rely on (the exercise section's first cell imports the same).
PRELUDE = "import numpy as np\nimport tensorflow as tf\nimport keras\n"

_GRADIENTS = '''
def _gradients(_rng, _shape, _steps):
    _drift = _rng.normal(size=_shape) * _rng.uniform(0.1, 3.0, size=_shape)
    _out = []
    for _t in range(_steps):
        _g = _drift * np.cos(_t / 9) + _rng.normal(0, 0.7, size=_shape)
        if _t % 13 == 5:
            _g = np.zeros(_shape)
        _out.append(_g)
    return _out
'''

_EXPORT_RMSPROP_MOMENTUM = numpy_only(
    _GRADIENTS
    + '''
_rng = np.random.default_rng(301)
_export = {"cases": []}
for _shape, _lr, _rho, _mu, _eps, _centered in [
        ((4,), 0.01, 0.9, 0.9, 1e-7, False), ((3, 2, 2), 0.002, 0.8, 0.0, 1e-3, True),
        ((1,), 0.05, 0.95, 0.7, 1e-7, True), ((5, 5), 0.001, 0.99, 0.95, 1e-4, False),
        ((6,), 0.03, 0.5, 0.3, 1e-2, True)]:
    _w0 = _rng.normal(size=_shape)
    _grads = _gradients(_rng, _shape, 150)
    _case = _call("rmsprop_momentum", _w0.copy(), [g.copy() for g in _grads], _lr, _rho, _mu, _eps,
                  _centered)
    _case.update(w0=_w0, grads=_grads, hyper=[_lr, _rho, _mu, _eps, _centered])
    _export["cases"].append(_case)
''',
    "rmsprop_momentum",
)

_EXPORT_AMSGRAD = numpy_only(
    _GRADIENTS
    + '''
_rng = np.random.default_rng(302)
_export = {"cases": []}
for _shape, _lr, _b1, _b2, _eps in [((4,), 0.01, 0.9, 0.999, 1e-7), ((2, 3, 2), 0.05, 0.5, 0.9, 1e-4),
                                    ((1,), 0.001, 0.95, 0.99, 1e-7), ((7, 3), 0.2, 0.8, 0.999, 1e-2)]:
    _w0 = _rng.normal(size=_shape)
    _grads = _gradients(_rng, _shape, 200)
    _case = _call("amsgrad", _w0.copy(), [g.copy() for g in _grads], _lr, _b1, _b2, _eps)
    _case.update(w0=_w0, grads=_grads, hyper=[_lr, _b1, _b2, _eps])
    _export["cases"].append(_case)
''',
    "amsgrad",
)

_EXPORT_WARMUP_COSINE = snippet('''
def _schedule_case(_params, _steps):
    _cls = globals().get("WarmupCosine")
    if not isinstance(_cls, type):
        return {"error": "WarmupCosine is not defined as a class: look for an error in its exercise cell"}
    try:
        _s = _cls(**_params)
        _values = [float(_s(keras.ops.convert_to_tensor(_t, "int64"))) for _t in _steps]
        _floats = [float(_s(keras.ops.convert_to_tensor(float(_t), "float32"))) for _t in _steps]
        _config = _s.get_config()
        _again = _cls.from_config(_config)
        _rebuilt = [float(_again(keras.ops.convert_to_tensor(_t, "int64"))) for _t in _steps]
        _var = keras.Variable(np.zeros(2, dtype="float32"))
        _opt = keras.optimizers.SGD(learning_rate=_s)
        _apply = tf.function(lambda: _opt.apply([keras.ops.ones(2)], [_var]))
        for _ in range(_params["warmup_steps"] + 7):
            _apply()
        return {"ok": {"values": _values, "floats": _floats, "rebuilt": _rebuilt,
                       "config_keys": sorted(str(k) for k in _config),
                       "subclass": issubclass(_cls, keras.optimizers.schedules.LearningRateSchedule),
                       "moved": float(-_var.numpy()[0])}}
    except NotImplementedError:
        return {"error": "NotImplementedError (the stub is not completed yet)"}
    except Exception as _err:
        return {"error": f"{type(_err).__name__}: {_err}"}
_export = {"cases": []}
for _params in [dict(peak=0.3, warmup_steps=7, decay_steps=23, floor=0.01),
                dict(peak=2e-3, warmup_steps=1, decay_steps=5, floor=0.0),
                dict(peak=1.0, warmup_steps=50, decay_steps=150, floor=0.2)]:
    _steps = sorted({0, 1, _params["warmup_steps"] - 1, _params["warmup_steps"],
                     _params["warmup_steps"] + 1, _params["warmup_steps"] + _params["decay_steps"] // 3,
                     _params["warmup_steps"] + _params["decay_steps"],
                     _params["warmup_steps"] + _params["decay_steps"] + 9, 1000})
    _case = _schedule_case(_params, _steps)
    _case.update(params=_params, steps=_steps)
    _export["cases"].append(_case)
''')

_EXPORT_CHOOSE_LR = snippet('''
from course_utils.data import load_mnist as _load_mnist
from course_utils.experiments import train_curves as _train_curves
_data = _load_mnist(train_size=2000, validation=1000, seed=33, flatten=True)
def _make_model():
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(48, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])
keras.utils.set_random_seed(34)
_export = {"choice": _call("choose_learning_rate", _make_model, _data.x_train.copy(),
                           _data.y_train.copy())}
def _one_epoch(_lr):
    keras.utils.set_random_seed(35)
    _model = _make_model()
    _curves = _train_curves(_model, _data.x_train, _data.y_train, _data.x_val, _data.y_val, epochs=1,
                            batch_size=64, optimizer=keras.optimizers.SGD(_lr), seed=35)
    _loss = _curves["val_loss"][-1]
    return _loss if np.isfinite(_loss) else 1e9
_grid = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
_export["grid"] = _grid
_export["grid_losses"] = [_one_epoch(_lr) for _lr in _grid]
try:
    _rate = float(_export["choice"].get("ok"))
    _export["loss"] = _one_epoch(_rate) if np.isfinite(_rate) and 0 < _rate < 1e3 else None
except Exception:
    _export["loss"] = None
''')

_EXPORT_QUIZ = QUIZ_EXPORT


def _trajectory_cases(student: dict[str, Any], reference: dict[str, Any], name: str, make: Callable[..., Any]):
    for i, got, exp in each_case(student, reference, name):
        w0 = np.asarray(exp["w0"], dtype=float)
        grads = [np.asarray(g, dtype=float) for g in exp["grads"]]
        try:
            path = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            path = np.asarray(np.nan)
        if path.shape != (len(grads), *w0.shape):
            fail(f"Hidden case {i}: return the weights after every step, shape (steps, *w0.shape).")
        yield i, path, _oracles.keras_trajectory(make(*exp["hyper"]), w0, grads), exp


def judge_rmsprop_momentum(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Five shapes, 150 noisy steps with zero gradients, momentum 0 to 0.95, centred or not, epsilon up to 0.01."""
    import keras

    refuse_frameworks(student, "rmsprop_momentum")

    def make(lr: float, rho: float, mu: float, eps: float, centered: bool) -> Any:
        return keras.optimizers.RMSprop(lr, rho=rho, momentum=mu, epsilon=eps, centered=centered)

    for i, got, expected, exp in _trajectory_cases(student, reference, "rmsprop_momentum", make):
        lr, rho, mu, eps, centered = exp["hyper"]
        where = f"hidden case {i} (momentum {'on' if mu else 'off'}, {'centred' if centered else 'not centred'})"
        hint = mismatch(got, expected, f"the weights in {where}", rtol=1e-5, atol=1e-5)
        if hint is not None:
            fail(hint + " Compare with keras.optimizers.RMSprop step by step, with a large epsilon too.")
    return Verdict(True, "Matches keras.optimizers.RMSprop on all hidden cases.")


def judge_amsgrad(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Four shapes, 200 noisy steps, beta_1 0.5 to 0.95, beta_2 0.9 to 0.999, epsilon up to 0.01."""
    import keras

    refuse_frameworks(student, "amsgrad")

    def make(lr: float, b1: float, b2: float, eps: float) -> Any:
        return keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2, epsilon=eps, amsgrad=True)

    for i, got, expected, exp in _trajectory_cases(student, reference, "amsgrad", make):
        lr, b1, b2, eps = exp["hyper"]
        plain = _oracles.keras_trajectory(
            keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2, epsilon=eps),
            np.asarray(exp["w0"], dtype=float),
            [np.asarray(g, dtype=float) for g in exp["grads"]],
        )
        if np.allclose(got, plain, rtol=1e-5, atol=1e-5) and not np.allclose(got, expected, rtol=1e-4, atol=1e-4):
            fail(f"Hidden case {i}: this is plain Adam; AMSGrad divides by the largest second moment so far.")
        # Keras rounds beta_2 to float32, which moves its bias correction by up to 1e-5 (relative)
        hint = mismatch(got, expected, f"the weights in hidden case {i}", rtol=1e-4, atol=1e-4)
        if hint is not None:
            fail(hint + " Check the bias correction and where the maximum is taken.")
    return Verdict(True, "Matches keras.optimizers.Adam(amsgrad=True) on all hidden cases.")


def judge_warmup_cosine(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Three hidden schedules (a one-step warm-up, a zero floor), integer and float steps, config, an optimizer."""
    for i, got, exp in each_case(student, reference, "WarmupCosine"):
        params, steps = exp["params"], exp["steps"]
        if not isinstance(got, dict):
            fail("WarmupCosine could not be graded.")
        if not got.get("subclass"):
            fail("WarmupCosine should subclass keras.optimizers.schedules.LearningRateSchedule.")
        closed = [_oracles.closed_form_warmup_cosine(t, **params) for t in steps]
        for key, what in [("values", "integer steps"), ("floats", "float steps")]:
            values = got.get(key)
            if not isinstance(values, list) or len(values) != len(steps):
                fail(f"Hidden schedule {i}: the rates could not be read.")
            for t, value, expected in zip(steps, values, closed):
                if not math.isclose(float(value), expected, rel_tol=1e-5, abs_tol=1e-9):
                    if t < params["warmup_steps"]:
                        stage = "warm-up"
                    elif t <= params["warmup_steps"] + params["decay_steps"]:
                        stage = "cosine decay"
                    else:
                        stage = "after the decay"
                    fail(f"Hidden schedule {i} ({what}): a wrong rate during the {stage}.")
        if got.get("config_keys") != sorted(params):
            fail("get_config() should return exactly peak, warmup_steps, decay_steps and floor.")
        if not np.allclose(got.get("rebuilt"), closed, rtol=1e-5, atol=1e-9):
            fail(f"Hidden schedule {i}: from_config(get_config()) gives another schedule.")
        moved = sum(_oracles.closed_form_warmup_cosine(t, **params) for t in range(params["warmup_steps"] + 7))
        if not math.isclose(float(got.get("moved", float("nan"))), moved, rel_tol=1e-4, abs_tol=1e-7):
            fail(f"Hidden schedule {i}: inside an optimizer (in a tf.function) it gives other rates.")
    return Verdict(True, "The right rates on all hidden schedules, serializable, and it trains in an optimizer.")


def judge_choose_lr(student: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """Hidden MNIST subset: one epoch of SGD at the chosen rate against the best rate of a grid."""
    rate = ok(student.get("choice"), "choose_learning_rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        fail("choose_learning_rate should return one positive number.")
    loss = student.get("loss")
    grid_losses = np.asarray(student.get("grid_losses") or reference["grid_losses"], dtype=float)
    best = float(np.min(grid_losses))
    if loss is None or not math.isfinite(float(loss)) or float(loss) > 1e8:
        fail("Training one epoch with your rate diverges on the hidden data: step back from the blow-up.")
    if float(loss) > 1.35 * best + 0.1:
        low = rate < np.asarray(reference["grid"])[int(np.argmin(grid_losses))]
        fail(
            "One epoch with your rate ends far above what a good rate reaches on the hidden data: your rate is "
            + ("too small; where does the range test's loss fall fastest?" if low else "too large.")
        )
    return Verdict(True, "Your rate trains about as well as the best of a grid on hidden data.")


judge_quiz = quiz_judge(
    {
        "q1": "Adagrad divides each weight's step by the root of the sum of its squared gradients. A word that "
        "rarely appears gets few gradients, so its sum stays small and its steps stay large; frequent words get "
        "small steps. Momentum and plain SGD give every weight the same rate, and RMSprop's short memory "
        "forgets how rarely a word was seen.",
        "q2": "Plain SGD keeps no state per weight: the update needs only the gradient. Momentum keeps one "
        "velocity per weight, Adagrad one accumulator, Adam two moments (m and v), as the chapter measured "
        "from each optimizer's variables.",
        "q3": "RMSprop keeps an exponential moving average of squared gradients, so old gradients fade and its "
        "steps adapt when the problem changes. Adagrad's sum only grows, so its steps shrink for good. Bias "
        "correction belongs to Adam, momentum is optional in both, and Adagrad's 0.1 start prevents division "
        "by zero rather than causing it.",
        "q4": "The linear scaling rule (Goyal et al.) multiplies the rate by the batch-size ratio: 8 x 0.05 = "
        "0.4, with a warm-up for the first steps. It is a rule of thumb that breaks at large batches (the "
        "chapter's run shows where), so the result must be checked. Keeping 0.05 makes 8 times fewer steps of "
        "the same size; larger batches average the gradient, they do not make it larger.",
    }
)


_answers = sibling(__file__, "solutions")  # this chapter's reference and wrong answers

# One record per exercise: the only place in the hidden tree where its id is typed.
CHECKS = [
    HiddenCheck(
        "ch03.rmsprop-momentum", 2, _EXPORT_RMSPROP_MOMENTUM, judge_rmsprop_momentum, _answers.RMSPROP_MOMENTUM
    ),
    HiddenCheck("ch03.amsgrad", 2, _EXPORT_AMSGRAD, judge_amsgrad, _answers.AMSGRAD),
    HiddenCheck("ch03.warmup-cosine", 2, _EXPORT_WARMUP_COSINE, judge_warmup_cosine, _answers.WARMUP_COSINE),
    HiddenCheck("ch03.choose-lr", 2, _EXPORT_CHOOSE_LR, judge_choose_lr, _answers.CHOOSE_LR),
    HiddenCheck("ch03.quiz", 2, _EXPORT_QUIZ, judge_quiz, _answers.QUIZ),
]
