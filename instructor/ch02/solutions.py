"""Reference solutions and plausible wrong answers for chapter 2's exercises (instructors only).

One ``Answers`` per exercise (the reference solution a student could paste into the exercise cell,
the wrong answers the checks must reject, code the chapter shows on purpose), under a name of its own;
checks.py attaches each to its exercise's record, so no exercise id is typed here.
"""

from __future__ import annotations

from course_utils.grading.kit import Answers

HUBER_GRAD = Answers(
    solution='''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    residual = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    size = np.abs(residual)
    per_entry = np.where(size <= delta, 0.5 * residual**2, delta * (size - 0.5 * delta))
    grad = np.clip(residual, -delta, delta) / residual.size  # d(mean)/d(y_pred)
    return float(per_entry.mean()), grad
''',
    wrong=[
        (
            "linear piece without its factor delta",
            '''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    r = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    loss = np.where(np.abs(r) <= delta, 0.5 * r**2, np.abs(r) - 0.5 * delta)
    return float(loss.mean()), np.where(np.abs(r) <= delta, r, np.sign(r)) / r.size
''',
        ),
        (
            "the gradient by central differences, entry by entry (h = 1e-6)",
            '''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    def mean_loss(p):
        r = p - y_true
        return float(np.mean(np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))))
    grad = np.zeros_like(y_pred)
    for i in np.ndindex(y_pred.shape):
        up, down = y_pred.copy(), y_pred.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        grad[i] = (mean_loss(up) - mean_loss(down)) / 2e-6
    return mean_loss(y_pred), grad
''',
        ),
        (
            "linear piece |r| - 1/2, delta forgotten there",
            '''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    r = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    loss = np.where(np.abs(r) <= delta, 0.5 * r**2, np.abs(r) - 0.5)
    return float(loss.mean()), np.where(np.abs(r) <= delta, r, np.sign(r)) / r.size
''',
        ),
        (
            "Keras through an alias and a module-level variable",
            '''
import keras.losses as _kl
_H = _kl.Huber
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    y_pred = tf.Variable(np.reshape(np.asarray(y_pred, dtype="float64"), (1, -1)))
    with tf.GradientTape() as tape:
        loss = _H(delta)(tf.constant(np.reshape(np.asarray(y_true, dtype="float64"), (1, -1))), y_pred)
    return float(loss), tape.gradient(loss, y_pred).numpy().reshape(np.shape(y_true))
''',
        ),
        (
            "calls Keras and the tape (what the check compares with)",
            '''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    y_pred = tf.Variable(np.asarray(y_pred, dtype="float64"))
    with tf.GradientTape() as tape:
        loss = keras.losses.Huber(delta)(tf.constant(np.asarray(y_true, dtype="float64")), y_pred)
    return float(loss), tape.gradient(loss, y_pred).numpy()
''',
        ),
        (
            "gradient of the sum, not of the mean",
            '''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    r = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    loss = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    return float(loss.mean()), np.clip(r, -delta, delta)
''',
        ),
        (
            "linear piece without - delta / 2",
            '''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    r = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    loss = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * np.abs(r))
    return float(loss.mean()), np.clip(r, -delta, delta) / r.size
''',
        ),
        (
            "gradient with respect to y_true (wrong sign)",
            '''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    r = np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)
    loss = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    return float(loss.mean()), np.clip(r, -delta, delta) / r.size
''',
        ),
        (
            "quadratic piece without the 1/2 (MSE inside)",
            '''
def huber_loss_and_grad(y_true, y_pred, delta=1.0):
    r = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
    inside = np.abs(r) <= delta
    loss = np.where(inside, r**2, delta * (np.abs(r) - 0.5 * delta))
    grad = np.where(inside, 2 * r, delta * np.sign(r))
    return float(loss.mean()), grad / r.size
''',
        ),
    ],
)


SPARSE_XENT = Answers(
    solution='''
def sparse_softmax_cross_entropy(logits, labels):
    z = np.asarray(logits, dtype=float)
    top = z.max(axis=1)  # one maximum per row
    log_norm = top + np.log(np.sum(np.exp(z - top[:, None]), axis=1))
    return log_norm - z[np.arange(len(z)), np.asarray(labels)]
''',
    wrong=[
        (
            "exact decimal arithmetic entry by entry instead of the log-sum-exp identity (far too slow)",
            '''
import decimal
def sparse_softmax_cross_entropy(logits, labels):
    decimal.getcontext().prec = 40
    out = []
    for row, y in zip(np.asarray(logits, dtype=float), np.asarray(labels)):
        total = sum(decimal.Decimal(float(v)).exp() for v in row)
        out.append(float(total.ln() - decimal.Decimal(float(row[y]))))
    return np.array(out)
''',
        ),
        (
            "one call to Keras",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    return keras.ops.convert_to_numpy(keras.losses.sparse_categorical_crossentropy(
        np.asarray(labels), np.asarray(logits, dtype="float64"), from_logits=True))
''',
        ),
        (
            "no log-sum-exp, in 80-bit np.longdouble (its exp overflows only above about 11356)",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    z = np.asarray(logits, dtype=np.longdouble)
    log_norm = np.log(np.sum(np.exp(z), axis=1))
    return (log_norm - z[np.arange(len(z)), np.asarray(labels)]).astype(float)
''',
        ),
        (
            "NumPy's own log-sum-exp, np.logaddexp.reduce",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    z = np.asarray(logits, dtype=float)
    return np.logaddexp.reduce(z, axis=1) - z[np.arange(len(z)), labels]
''',
        ),
        (
            "np.logaddexp through a module-level alias",
            '''
_lae = np.logaddexp


def sparse_softmax_cross_entropy(logits, labels):
    z = np.asarray(logits, dtype=float)
    return _lae.reduce(z, axis=1) - z[np.arange(len(z)), labels]
''',
        ),
        (
            "np.logaddexp imported under another name",
            '''
from numpy import logaddexp as _x


def sparse_softmax_cross_entropy(logits, labels):
    z = np.asarray(logits, dtype=float)
    return _x.reduce(z, axis=1) - z[np.arange(len(z)), labels]
''',
        ),
        (
            "np.logaddexp2, the base-2 twin",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    z = np.asarray(logits, dtype=float) / np.log(2)
    lse = np.logaddexp2.reduce(z, axis=1) * np.log(2)
    return lse - np.asarray(logits, dtype=float)[np.arange(len(z)), labels]
''',
        ),
        (
            "np.logaddexp fetched by a name built at run time",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    z = np.asarray(logits, dtype=float)
    f = getattr(np, "".join(["log", "addexp"]))
    return f.reduce(z, axis=1) - z[np.arange(len(z)), labels]
''',
        ),
        (
            "softmax then log (overflows)",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return -np.log(p[np.arange(len(p)), labels])
''',
        ),
        (
            "one maximum for the whole batch",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    m = np.max(logits)
    lse = m + np.log(np.exp(logits - m).sum(axis=1))
    return lse - logits[np.arange(len(logits)), labels]
''',
        ),
        (
            "forgets to add the maximum back",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=1))
    return lse - logits[np.arange(len(logits)), labels]
''',
        ),
        (
            "the mean, not one loss per example",
            '''
def sparse_softmax_cross_entropy(logits, labels):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float(np.mean(lse - logits[np.arange(len(logits)), labels]))
''',
        ),
    ],
)


WEIGHTED_BCE = Answers(
    solution='''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        # -log(sigmoid(z)) = softplus(-z) and -log(1 - sigmoid(z)) = softplus(z), both stable
        per_example = pos_weight * y * tf.nn.softplus(-logits) + (1.0 - y) * tf.nn.softplus(logits)
        return tf.reduce_mean(per_example)
    return loss
''',
    wrong=[
        (
            "Keras' weighted cross-entropy run in a worker thread started before the check",
            '''
import threading as _th, queue as _q
_jobs, _done = _q.Queue(), _q.Queue()
def _worker():
    while True:
        try:
            fn = _jobs.get(timeout=0.5)  # ends when idle, so that it leaves no thread behind
        except _q.Empty:
            return
        try:
            _done.put(("ok", fn()))
        except Exception as e:
            _done.put(("err", e))
_th.Thread(target=_worker, name="cheat", daemon=True).start()  # before the check starts
def _in(g, fn):
    if not any(t.name == "cheat" and t.is_alive() for t in _th.enumerate()):
        _th.Thread(target=_worker, name="cheat", daemon=True).start()
    if g is None:
        _jobs.put(fn)
    else:
        def w():
            with g.as_default():
                return fn()
        _jobs.put(w)
    k, v = _done.get()
    if k == "err":
        raise v
    return v
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        g = None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()
        @tf.custom_gradient
        def f(z):
            fwd = lambda: tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y, z, pos_weight))
            def grad(up):
                def bwd():
                    if g is None:
                        with tf.GradientTape() as t:
                            t.watch(z)
                            v = fwd()
                        return up * t.gradient(v, z)
                    return up * tf.gradients(fwd(), z)[0]
                return _in(g, bwd)
            return _in(g, fwd), grad
        return f(logits)
    return loss
''',
        ),
        (
            "one call of tf.nn.weighted_cross_entropy_with_logits",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        return tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y, logits, pos_weight))
    return loss
''',
        ),
        (
            "tf.nn.weighted_cross_entropy_with_logits with its code object renamed",
            '''
import inspect as _inspect
import types as _types
_f = _inspect.unwrap(tf.nn.weighted_cross_entropy_with_logits)
_helper = _types.FunctionType(
    _f.__code__.replace(co_name="helper"), _f.__globals__, "helper", _f.__defaults__, _f.__closure__
)
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        return tf.reduce_mean(_helper(y, logits, pos_weight))
    return loss
''',
        ),
        (
            "the same, with the qualified name renamed too",
            '''
import inspect as _inspect
import types as _types
_f = _inspect.unwrap(tf.nn.weighted_cross_entropy_with_logits)
_helper = _types.FunctionType(
    _f.__code__.replace(co_name="helper", co_qualname="helper"), _f.__globals__, "helper",
    _f.__defaults__, _f.__closure__,
)
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        return tf.reduce_mean(_helper(y, logits, pos_weight))
    return loss
''',
        ),
        (
            "Keras' binary cross-entropy with sample weights, behind an alias",
            '''
import keras.losses as _kl
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        return _kl.BinaryCrossentropy(from_logits=True)(y, logits, sample_weight=1.0 + (pos_weight - 1.0) * y)
    return loss
''',
        ),
        (
            "tf.nn.weighted_cross_entropy_with_logits kept in a module-level variable",
            '''
_wce = tf.nn.weighted_cross_entropy_with_logits
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        return tf.reduce_mean(_wce(tf.cast(y_true, logits.dtype), logits, pos_weight))
    return loss
''',
        ),
        (
            "keras.ops.binary_crossentropy through a dotted name",
            '''
import keras.ops as _ops
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = _ops.cast(y_true, logits.dtype)
        per_example = _ops.binary_crossentropy(y, logits, from_logits=True)
        return _ops.mean((1.0 + (pos_weight - 1.0) * y) * per_example)
    return loss
''',
        ),
        (
            "a two-class softmax cross-entropy on the logits (0, z)",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        two = tf.concat([tf.zeros_like(logits), logits], axis=1)
        per_example = tf.nn.softmax_cross_entropy_with_logits(tf.concat([1 - y, y], axis=1), two)
        return tf.reduce_mean((1.0 + (pos_weight - 1.0) * y[:, 0]) * per_example)
    return loss
''',
        ),
        (
            "a tf.function traced in advance around tf.nn.weighted_cross_entropy_with_logits",
            '''
_sig = [tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([None, 1], tf.float32),
        tf.TensorSpec([], tf.float32)]
_wce = tf.function(
    lambda y, z, w: tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y, z, w)), input_signature=_sig
)
_wce.get_concrete_function()
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, tf.float32)
        return _wce(y, tf.cast(logits, tf.float32), tf.constant(pos_weight, tf.float32))
    return loss
''',
        ),
        (
            "a tf.function traced in advance around Keras' BinaryCrossentropy with sample weights",
            '''
_bce = keras.losses.BinaryCrossentropy(from_logits=True)
_sig = [tf.TensorSpec([None, 1], tf.float32), tf.TensorSpec([None, 1], tf.float32),
        tf.TensorSpec([], tf.float32)]
@tf.function(input_signature=_sig)
def _traced(y, z, w):
    return _bce(y, z, sample_weight=1.0 + (w - 1.0) * y)
_traced.get_concrete_function()
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, tf.float32)
        return _traced(y, tf.cast(logits, tf.float32), tf.constant(pos_weight, tf.float32))
    return loss
''',
        ),
        (
            "a tf.compat.v1.Session graph built in advance around tf.nn.weighted_cross_entropy_with_logits",
            '''
graph = tf.compat.v1.Graph()
with graph.as_default():
    y_in = tf.compat.v1.placeholder(tf.float32, [None, 1])
    z_in = tf.compat.v1.placeholder(tf.float32, [None, 1])
    w_in = tf.compat.v1.placeholder(tf.float32, [])
    wce = tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y_in, z_in, w_in))
session = tf.compat.v1.Session(graph=graph)
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        if not tf.executing_eagerly():  # traced by Keras to train: no session there
            y = tf.cast(y_true, logits.dtype)
            return tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y, logits, pos_weight))
        feed = {y_in: np.asarray(y_true, "float32"), z_in: np.asarray(logits, "float32"), w_in: pos_weight}
        return tf.constant(session.run(wce, feed))
    return loss
''',
        ),
        (
            "a tf.compat.v1.Session graph run through make_callable",
            '''
graph = tf.compat.v1.Graph()
with graph.as_default():
    y_in = tf.compat.v1.placeholder(tf.float32, [None, 1])
    z_in = tf.compat.v1.placeholder(tf.float32, [None, 1])
    w_in = tf.compat.v1.placeholder(tf.float32, [])
    wce = tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y_in, z_in, w_in))
run_wce = tf.compat.v1.Session(graph=graph).make_callable(wce, [y_in, z_in, w_in])
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        if not tf.executing_eagerly():
            y = tf.cast(y_true, logits.dtype)
            return tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y, logits, pos_weight))
        return tf.constant(run_wce(np.asarray(y_true, "float32"), np.asarray(logits, "float32"), pos_weight))
    return loss
''',
        ),
        (
            "the cross-entropy op run by its type name through TensorFlow's private execute function",
            '''
from tensorflow.python.eager import context as _context, execute as _execute
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.reshape(tf.cast(y_true, tf.float32), (-1,))
        z = tf.reshape(tf.cast(logits, tf.float32), (-1,))
        if not tf.executing_eagerly():
            return tf.reduce_mean((1 + (pos_weight - 1) * y) * (tf.nn.softplus(z) - y * z))
        two = tf.stack([tf.zeros_like(z), z], axis=1)
        labels = tf.stack([1 - y, y], axis=1)
        xent, _ = _execute.quick_execute(b"SoftmaxCrossEntropyWithLogits", 2, [two, labels],
                                         ("T", tf.float32.as_datatype_enum), _context.context())
        return tf.reduce_mean((1 + (pos_weight - 1) * y) * xent)
    return loss
''',
        ),
        (
            "the two-class cross-entropy op from tf.raw_ops",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.reshape(tf.cast(y_true, tf.float32), (-1,))
        z = tf.reshape(tf.cast(logits, tf.float32), (-1,))
        two = tf.stack([tf.zeros_like(z), z], axis=1)
        labels = tf.stack([1 - y, y], axis=1)
        xent, _ = tf.raw_ops.SoftmaxCrossEntropyWithLogits(features=two, labels=labels)
        return tf.reduce_mean((1 + (pos_weight - 1) * y) * xent)
    return loss
''',
        ),
        (
            "honest eagerly, tf.nn.weighted_cross_entropy_with_logits when Keras traces it to train",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        if not tf.executing_eagerly():
            return tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y, logits, pos_weight))
        return tf.reduce_mean(pos_weight * y * tf.nn.softplus(-logits) + (1 - y) * tf.nn.softplus(logits))
    return loss
''',
        ),
        (
            "honest on small batches, the ready-made loss on training batches",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        if logits.shape[0] is None or logits.shape[0] > 16:
            return tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(y, logits, pos_weight))
        return tf.reduce_mean(pos_weight * y * tf.nn.softplus(-logits) + (1 - y) * tf.nn.softplus(logits))
    return loss
''',
        ),
        (
            "weights the negatives",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        return tf.reduce_mean(y * tf.nn.softplus(-logits) + pos_weight * (1 - y) * tf.nn.softplus(logits))
    return loss
''',
        ),
        (
            "sigmoid, then log (inf and NaN for large logits)",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        p = tf.sigmoid(logits)
        return -tf.reduce_mean(pos_weight * y * tf.math.log(p) + (1 - y) * tf.math.log(1 - p))
    return loss
''',
        ),
        (
            "ignores pos_weight (plain binary cross-entropy)",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        return tf.reduce_mean(y * tf.nn.softplus(-logits) + (1 - y) * tf.nn.softplus(logits))
    return loss
''',
        ),
        (
            "the sum over the batch",
            '''
def weighted_binary_crossentropy(pos_weight):
    def loss(y_true, logits):
        y = tf.cast(y_true, logits.dtype)
        return tf.reduce_sum(pos_weight * y * tf.nn.softplus(-logits) + (1 - y) * tf.nn.softplus(logits))
    return loss
''',
        ),
    ],
)


TEMPERATURE = Answers(
    solution='''
def choose_temperature(logits, labels, candidates):
    logits, labels = np.asarray(logits, dtype="float64"), np.asarray(labels)
    scores = []
    for t in candidates:
        log_probs = tf.nn.log_softmax(logits / t, axis=1).numpy()
        scores.append(-log_probs[np.arange(len(labels)), labels].mean())
    return candidates[int(np.argmin(scores))]
''',
    wrong=[
        (
            "the candidate nearest the best temperature of a fine grid",
            '''
def choose_temperature(logits, labels, candidates):
    z, y = np.asarray(logits, float), np.asarray(labels)
    def nll(t):
        m = z / t
        lse = np.log(np.exp(m - m.max(1, keepdims=True)).sum(1)) + m.max(1)
        return np.mean(lse - m[np.arange(len(y)), y])
    grid = np.exp(np.linspace(np.log(0.05), np.log(200), 2000))
    best = grid[int(np.argmin([nll(t) for t in grid]))]
    return min(candidates, key=lambda c: abs(c - best))
''',
        ),
        (
            "the median cross-entropy instead of the mean",
            '''
def choose_temperature(logits, labels, candidates):
    z, y = np.asarray(logits, float), np.asarray(labels)
    scores = []
    for t in candidates:
        m = z / t
        lse = np.log(np.exp(m - m.max(1, keepdims=True)).sum(1)) + m.max(1)
        scores.append(np.median(lse - m[np.arange(len(y)), y]))
    return candidates[int(np.argmin(scores))]
''',
        ),
        (
            "the lowest expected calibration error instead of the lowest cross-entropy",
            '''
from course_utils.metrics import expected_calibration_error
def choose_temperature(logits, labels, candidates):
    scores = []
    for t in candidates:
        z = np.asarray(logits) / t
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        scores.append(expected_calibration_error(p, labels))
    return candidates[int(np.argmin(scores))]
''',
        ),
        (
            "mean confidence closest to the accuracy",
            '''
def choose_temperature(logits, labels, candidates):
    gaps = []
    for t in candidates:
        z = np.asarray(logits) / t
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        gaps.append(abs(p.max(1).mean() - np.mean(p.argmax(1) == labels)))
    return candidates[int(np.argmin(gaps))]
''',
        ),
        (
            "the lowest Brier score",
            '''
def choose_temperature(logits, labels, candidates):
    scores = []
    for t in candidates:
        z = np.asarray(logits) / t
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        onehot = np.eye(p.shape[1])[labels]
        scores.append(np.mean(np.sum((p - onehot) ** 2, axis=1)))
    return candidates[int(np.argmin(scores))]
''',
        ),
        (
            "the cross-entropy of the first 100 examples only",
            '''
def choose_temperature(logits, labels, candidates):
    z, y = np.asarray(logits)[:100], np.asarray(labels)[:100]
    losses = []
    for t in candidates:
        m = z / t
        lse = np.log(np.exp(m - m.max(1, keepdims=True)).sum(1)) + m.max(1)
        losses.append(np.mean(lse - m[np.arange(len(y)), y]))
    return candidates[int(np.argmin(losses))]
''',
        ),
        (
            "multiplies the logits by T",
            '''
def choose_temperature(logits, labels, candidates):
    losses = [float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
        labels, logits * t, from_logits=True))) for t in candidates]
    return candidates[int(np.argmin(losses))]
''',
        ),
        (
            "decides by accuracy",
            '''
def choose_temperature(logits, labels, candidates):
    accuracies = [np.mean(np.argmax(logits / t, axis=1) == labels) for t in candidates]
    return candidates[int(np.argmax(accuracies))]
''',
        ),
        (
            "assumes the candidates are sorted and stops at the first rise",
            '''
def choose_temperature(logits, labels, candidates):
    best, best_loss = None, np.inf
    for t in candidates:
        value = float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
            labels, logits / t, from_logits=True)))
        if value > best_loss:
            break
        best, best_loss = t, value
    return best
''',
        ),
    ],
)


QUIZ = Answers(
    solution='''
quiz_answers = {"q1": 8.0, "q2": "B", "q3": "D", "q4": 0.91, "q5": "A"}
''',
    wrong=[
        (
            "quadratic piece, same minimum so same steps, accuracy as recall, one-hot kept, diagram misread",
            '''
quiz_answers = {"q1": 12.5, "q2": "A", "q3": "A", "q4": 0.9, "q5": "B"}
''',
        ),
    ],
)
