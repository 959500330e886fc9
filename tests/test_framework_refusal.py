"""Framework refusal sees through names: every route to Keras fails the NumPy-only checks.

Each wrong answer below computes the Huber loss and its gradient *correctly*, with Keras and the
tape, reached by one route a student could take (the issue's held-out families). Both the visible
check and the hidden check (its snippet run here as the grader runs it, then its judge) must refuse
every one of them, and still pass the NumPy reference. The checks decide by what runs
(course_utils.watch), so none of these routes hides the framework.
"""

from __future__ import annotations

import sys
import textwrap
import time

import numpy as np
import pytest

from course_utils.checking import CheckFailed, numpy_only
from course_utils.exercises import run_check
from course_utils.watch import watched_call

from conftest import INSTRUCTOR

pytest.importorskip("keras")

# The body every bypass shares: Huber with Keras, reached through the module bound to `losses`.
KERAS_HUBER = """
def _by_keras(y_true, y_pred, delta, losses):
    import tensorflow as tf
    yt = tf.constant(np.reshape(y_true, (1, -1)), dtype=tf.float64)
    yp = tf.constant(np.reshape(y_pred, (1, -1)), dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(yp)
        loss = losses.Huber(delta=delta)(yt, yp)
    return float(loss), tape.gradient(loss, yp).numpy().reshape(np.shape(y_pred))
"""

BYPASSES = {
    "alias": """
import keras.losses as kl
def huber_loss_and_grad(y_true, y_pred, delta):
    return _by_keras(y_true, y_pred, delta, kl)
""",
    "dotted import": """
import keras.losses
def huber_loss_and_grad(y_true, y_pred, delta):
    return _by_keras(y_true, y_pred, delta, keras.losses)
""",
    "module-level variable": """
L = __import__("keras").losses
def huber_loss_and_grad(y_true, y_pred, delta):
    return _by_keras(y_true, y_pred, delta, L)
""",
    "importlib": """
import importlib
def huber_loss_and_grad(y_true, y_pred, delta):
    return _by_keras(y_true, y_pred, delta, importlib.import_module("ke" + "ras.losses"))
""",
    "getattr": """
import sys as _s
def huber_loss_and_grad(y_true, y_pred, delta):
    return _by_keras(y_true, y_pred, delta, getattr(_s.modules["keras"], "los" + "ses"))
""",
    "callable object": """
class _Huber:
    def __init__(self, losses):
        self.losses = losses
    def __call__(self, y_true, y_pred, delta):
        return _by_keras(y_true, y_pred, delta, self.losses)
huber_loss_and_grad = _Huber(__import__("keras").losses)
""",
    "closure": """
def _make(losses):
    def huber_loss_and_grad(y_true, y_pred, delta):
        return _by_keras(y_true, y_pred, delta, losses)
    return huber_loss_and_grad
huber_loss_and_grad = _make(__import__("keras").losses)
""",
    "import hook": """
import importlib.abc, importlib.util, sys as _s
class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name == "numpy_losses" else None
    def create_module(self, spec):
        return _s.modules["keras"].losses
    def exec_module(self, module):
        pass
_s.meta_path.insert(0, _Alias())
import numpy_losses
def huber_loss_and_grad(y_true, y_pred, delta):
    return _by_keras(y_true, y_pred, delta, numpy_losses)
""",
    "patched filters": """
import course_utils.checking, course_utils.watch, course_utils.grading.kit
_honest = lambda fn, args=(), kwargs=None, **k: (("ok", fn(*args, **(kwargs or {}))), [])
course_utils.watch.watched_call = course_utils.checking.watched_call = _honest
course_utils.grading.kit.watched_call = _honest
course_utils.checking.numpy_only = lambda fn, name: fn
course_utils.checking.frameworks_used = lambda fn: []
def huber_loss_and_grad(y_true, y_pred, delta):
    return _by_keras(y_true, y_pred, delta, __import__("keras").losses)
""",
    "forged code the filter reads": """
def _plain_numpy(y_true, y_pred, delta):
    return 0.0, np.zeros_like(y_pred)
class _Forged:
    __code__ = _plain_numpy.__code__
    __name__ = "huber_loss_and_grad"
    def __call__(self, y_true, y_pred, delta):
        return _by_keras(y_true, y_pred, delta, __import__("keras").losses)
huber_loss_and_grad = _Forged()
""",
    "poisoned sys.setprofile": """
import sys as _s
_s.setprofile = lambda fn: None
def huber_loss_and_grad(y_true, y_pred, delta):
    return _by_keras(y_true, y_pred, delta, __import__("keras").losses)
""",
    "watcher removed while it runs": """
import sys as _s
def huber_loss_and_grad(y_true, y_pred, delta):
    _s.setprofile(None)
    return _by_keras(y_true, y_pred, delta, __import__("keras").losses)
""",
    "work done in a new thread": """
import threading
def huber_loss_and_grad(y_true, y_pred, delta):
    out = []
    t = threading.Thread(target=lambda: out.append(_by_keras(y_true, y_pred, delta, __import__("keras").losses)))
    t.start(); t.join()
    return out[0]
""",
    "lazy result computed later": """
class _Lazy:
    def __init__(self, thunk):
        self.thunk = thunk
    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.thunk(), dtype=dtype)
    def __float__(self):
        return float(self.thunk())
def huber_loss_and_grad(y_true, y_pred, delta):
    args = (y_true.copy(), y_pred.copy(), delta, __import__("keras").losses)
    return _Lazy(lambda: _by_keras(*args)[0]), _Lazy(lambda: _by_keras(*args)[1])
""",
}

NUMPY_HUBER = """
def huber_loss_and_grad(y_true, y_pred, delta):
    r = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    small = np.abs(r) <= delta
    loss = np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    grad = np.where(small, r, delta * np.sign(r)) / r.size
    return float(np.mean(loss)), grad
"""


def define(source: str) -> dict:
    """Run an answer as a notebook cell would, with the exercise section's imports."""
    namespace: dict = {"__name__": "__main__"}
    exec("import numpy as np\nimport keras\n" + KERAS_HUBER + textwrap.dedent(source), namespace)
    return namespace


@pytest.fixture
def restored_state():
    """Undo what a bypass patches in this process (sys, meta_path, course_utils modules)."""
    import course_utils.checking
    import course_utils.grading.kit
    import course_utils.watch

    saved = [
        (sys, "setprofile", sys.setprofile),
        (course_utils.watch, "watched_call", course_utils.watch.watched_call),
        (course_utils.checking, "watched_call", course_utils.checking.watched_call),
        (course_utils.checking, "numpy_only", course_utils.checking.numpy_only),
        (course_utils.grading.kit, "watched_call", course_utils.grading.kit.watched_call),
    ]
    meta_path = list(sys.meta_path)
    yield
    for owner, name, value in saved:
        setattr(owner, name, value)
    sys.meta_path[:] = meta_path
    sys.modules.pop("numpy_losses", None)
    sys.setprofile(None)


def hidden_chapter():
    """Chapter 2's hidden checks, loaded as the grader loads them."""
    if not (INSTRUCTOR / "ch02" / "checks.py").is_file():
        pytest.skip("no instructor tree")
    from course_utils.grading.hidden import load_chapter

    return load_chapter(INSTRUCTOR / "ch02")


def hidden_verdict(source: str):
    """The hidden check of ch02.huber-grad on an answer: its snippet run here, then its judge."""
    from course_utils.grading.hidden import ensure_references, run_export_in_process

    chapter = hidden_chapter()
    answer = KERAS_HUBER + textwrap.dedent(source)
    exported = run_export_in_process(chapter, "ch02.huber-grad", answer)
    try:
        return chapter.judges["ch02.huber-grad"](exported, ensure_references(chapter)["ch02.huber-grad"])
    except CheckFailed as stop:
        return stop.verdict


def test_the_numpy_answer_passes_both_checks(restored_state):
    assert run_check("ch02.huber-grad", define(NUMPY_HUBER)["huber_loss_and_grad"]).passed
    verdict = hidden_verdict(NUMPY_HUBER)
    assert verdict.passed, verdict.message


@pytest.mark.parametrize("family", sorted(BYPASSES))
def test_the_visible_check_refuses_keras_reached_by(family, restored_state):
    verdict = run_check("ch02.huber-grad", define(BYPASSES[family])["huber_loss_and_grad"])
    assert not verdict.passed, family
    assert "NumPy" in verdict.message, verdict.message


@pytest.mark.slow  # about 0.6 s each: a hidden check's snippet and judge per family
@pytest.mark.parametrize("family", sorted(BYPASSES))
def test_the_hidden_check_refuses_keras_reached_by(family, restored_state):
    verdict = hidden_verdict(BYPASSES[family])
    assert not verdict.passed and verdict.fraction == 0.0, family
    assert "NumPy" in verdict.message or "Keras" in verdict.message, verdict.message


def test_the_package_oracle_a_student_imported_is_gone():
    with pytest.raises(ImportError):
        define("from course_utils.exercises.ch02 import _keras_huber as huber_loss_and_grad")


def test_the_watcher_sees_c_functions_and_leaves_no_hook_behind():
    import tensorflow as tf

    (kind, _), used = watched_call(lambda: tf.reduce_sum(tf.ones(3)))
    assert kind == "ok" and "tensorflow" in used
    assert sys.getprofile() is None
    (kind, value), used = watched_call(lambda: np.linalg.norm(np.ones(4)))
    assert (kind, float(value), used) == ("ok", 2.0, [])


def test_refused_names_single_out_the_function_that_answers_the_exercise():
    import tensorflow as tf

    y, z = tf.ones((3, 1)), tf.ones((3, 1))
    names = ("weighted_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits")
    _, used = watched_call(lambda: tf.nn.weighted_cross_entropy_with_logits(y, z, 3.0), refused_names=names)
    assert used == ["tensorflow.weighted_cross_entropy_with_logits_v2"]
    _, used = watched_call(lambda: tf.nn.softplus(-z) * y + tf.nn.softplus(z) * (1 - y), refused_names=names)
    assert used == []


def test_refused_names_see_through_a_renamed_code_object():
    """A copy of TensorFlow's own function under another name: its code's qualified name (or, with
    that renamed too, its file and first line) still gives it away."""
    import inspect
    import types

    import tensorflow as tf

    y, z = tf.ones((3, 1)), tf.ones((3, 1))
    names = ("weighted_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits")
    f = inspect.unwrap(tf.nn.weighted_cross_entropy_with_logits)
    for renamed in ({"co_name": "helper"}, {"co_name": "helper", "co_qualname": "helper"}):
        code = f.__code__.replace(**renamed)
        helper = types.FunctionType(code, f.__globals__, "helper", f.__defaults__, f.__closure__)
        (kind, _), used = watched_call(lambda h=helper: h(y, z, 3.0), refused_names=names)
        assert kind == "ok" and used == ["tensorflow.weighted_cross_entropy_with_logits_v2"], renamed
    start = time.perf_counter()
    watched_call(lambda: None, refused_names=names)
    assert time.perf_counter() - start < 0.5  # the look-up of refused functions' places is cheap


def test_graph_runs_refuse_a_graph_built_in_advance_but_not_eager_operations():
    """A tf.compat.v1.Session graph, a traced tf.function and a py_function run the refused loss
    where its name never runs in Python during the call: GRAPH_RUNS names their machinery."""
    import tensorflow as tf

    from course_utils.watch import GRAPH_RUNS

    graph = tf.compat.v1.Graph()
    with graph.as_default():
        y_in = tf.compat.v1.placeholder(tf.float32, [None, 1])
        z_in = tf.compat.v1.placeholder(tf.float32, [None, 1])
        out = tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y_in, z_in, 3.0))
    session = tf.compat.v1.Session(graph=graph)
    y, z = np.ones((3, 1), "float32"), np.ones((3, 1), "float32")
    traced = tf.function(lambda a, b: tf.nn.weighted_cross_entropy_with_logits(a, b, 3.0))
    traced(tf.constant(y), tf.constant(z))  # traced before the watch
    routes = {
        "session.run": lambda: session.run(out, {y_in: y, z_in: z}),
        "make_callable": lambda: session.make_callable(out, [y_in, z_in])(y, z),
        "tf.function": lambda: traced(tf.constant(y), tf.constant(z)),
        "py_function": lambda: tf.py_function(lambda: 1.0, [], tf.float32),
    }
    for route, thunk in routes.items():
        (kind, _), used = watched_call(thunk, refused_names=("weighted_cross_entropy_with_logits", *GRAPH_RUNS))
        assert kind == "ok" and used, route
    honest = lambda: tf.reduce_mean(3.0 * y * tf.nn.softplus(-z) + (1 - y) * tf.nn.softplus(z))
    assert watched_call(honest, refused_names=GRAPH_RUNS)[1] == []
    session.close()


def test_a_framework_reading_frames_is_no_tampering_but_the_student_reading_them_is():
    """Keras' optimizers call sys._getframe internally: an apply inside a watched call is no refusal."""
    import keras
    import tensorflow as tf

    variable = tf.Variable([1.0, 2.0])
    optimizer = keras.optimizers.SGD(0.1)

    def step():
        optimizer.apply([tf.constant([1.0, 1.0])], [variable])
        return variable.numpy()

    (kind, value), used = watched_call(step, refused_names=("fit", "train_on_batch"))
    assert kind == "ok" and used == [] and np.allclose(value, [0.9, 1.9])
    (kind, _), used = watched_call(lambda: sys._getframe(0), refused_names=("fit",))
    assert kind == "ok" and used == ["tampering: sys._getframe"]
    import inspect  # the standard library's detour is still the student's own reach for a frame

    (kind, _), used = watched_call(lambda: inspect.currentframe(), refused_names=("fit",))
    assert kind == "ok" and used == ["tampering: sys._getframe"]


def test_a_dotted_refused_name_refuses_that_function_outside_the_frameworks():
    import keras

    from course_utils.training import train_loop

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    x, y = np.ones((4, 2), "float32"), np.array([0, 1, 0, 1])
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    names = ("fit", "course_utils.training.train_loop")
    (kind, _), used = watched_call(
        lambda: train_loop(model, x, y, loss, epochs=1, batch_size=2, lr=0.1), refused_names=names
    )
    assert kind == "ok" and used == ["course_utils.training.train_loop"]


def test_numpy_only_binds_its_watcher_before_a_notebook_can_patch_it(restored_state):
    import course_utils.checking

    course_utils.checking.watched_call = lambda fn, args=(), kwargs=None, **k: (("ok", fn()), [])
    import keras

    watched = numpy_only(lambda x: keras.ops.sum(x), "f")
    with pytest.raises(CheckFailed, match="keras"):
        watched(np.ones(2))


@pytest.mark.parametrize(
    "source",
    [
        "import scipy.special as _ss\n_huber = _ss.huber\n",
        "from scipy.special import huber as _huber\n",
    ],
)
def test_the_visible_check_refuses_a_framework_ufunc_the_hook_does_not_report(source, restored_state):
    # A ufunc runs without a profile event; the visible check reads what the function's code names.
    answer = source + textwrap.dedent(
        """
        def huber_loss_and_grad(y_true, y_pred, delta=1.0):
            r = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
            return float(np.mean(_huber(delta, r))), np.clip(r, -delta, delta) / r.size
        """
    )
    verdict = run_check("ch02.huber-grad", define(answer)["huber_loss_and_grad"])
    assert not verdict.passed and "scipy" in verdict.message, verdict.message


def test_the_sparse_xent_check_refuses_numpys_own_log_sum_exp(restored_state):
    answer = textwrap.dedent(
        """
        def sparse_softmax_cross_entropy(logits, labels):
            z = np.asarray(logits, dtype=float)
            return np.logaddexp.reduce(z, axis=1) - z[np.arange(len(z)), labels]
        """
    )
    verdict = run_check("ch02.sparse-xent", define(answer)["sparse_softmax_cross_entropy"])
    assert not verdict.passed and "logaddexp" in verdict.message, verdict.message
