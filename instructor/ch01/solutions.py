"""Reference solutions and plausible wrong answers for chapter 1's exercises (instructors only).

One ``Answers`` per exercise (the reference solution a student could paste into the exercise cell,
the wrong answers the checks must reject, code the chapter shows on purpose), under a name of its own;
checks.py attaches each to its exercise's record, so no exercise id is typed here.
"""

from __future__ import annotations

from course_utils.grading.kit import Answers

# Code the chapter shows on purpose, which a solution may repeat: the leak scan ignores it.


CENTRAL_DIFFERENCE = Answers(
    solution='''
def central_difference(f, x, h=1e-5):
    base = np.array(x, dtype=float)
    out_shape = np.shape(f(base.copy()))
    jac = np.empty(out_shape + base.shape)
    for index in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[index] += h
        down[index] -= h
        change = (np.asarray(f(up), dtype=float) - np.asarray(f(down), dtype=float)) / (2 * h)
        jac[(Ellipsis, *index)] = change
    return jac
''',
    wrong=[
        (
            "forward difference",
            '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (f(x + step) - f(x)) / h
    return grad
''',
        ),
        (
            "divides by h instead of 2h",
            '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (f(x + step) - f(x - step)) / h
    return grad
''',
        ),
        (
            "only works for vectors (flattens)",
            '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float).ravel()
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad
''',
        ),
        (
            "scalar functions only: the chapter's loop with np.ndindex",
            '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        grad[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return grad
''',
        ),
        (
            "ignores h",
            '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = 1e-5
        grad[idx] = (f(x + step) - f(x - step)) / (2 * 1e-5)
    return grad
''',
        ),
    ],
)


SOFTMAX_XENT_GRAD = Answers(
    solution='''
def softmax_cross_entropy_grad(logits, labels, smoothing):
    shifted = np.asarray(logits, dtype=float)
    shifted = shifted - shifted.max(axis=1, keepdims=True)  # exp cannot overflow any more
    probs = np.exp(shifted)
    probs /= probs.sum(axis=1, keepdims=True)
    # the target: 1 - smoothing on the label, plus smoothing / c on every class
    probs[np.arange(len(probs)), np.asarray(labels)] -= 1.0
    probs += smoothing * np.eye(probs.shape[1])[np.asarray(labels)] - smoothing / probs.shape[1]
    return probs / len(probs)
''',
    wrong=[
        (
            "ignores the smoothing (the unsmoothed gradient)",
            '''
def softmax_cross_entropy_grad(logits, labels, smoothing):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p[np.arange(len(p)), labels] -= 1
    return p / len(p)
''',
        ),
        (
            "sum over the batch instead of the mean",
            '''
def softmax_cross_entropy_grad(logits, labels, smoothing):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    q = (1 - smoothing) * np.eye(p.shape[1])[labels] + smoothing / p.shape[1]
    return p - q
''',
        ),
        (
            "softmax without subtracting the maximum (overflows)",
            '''
def softmax_cross_entropy_grad(logits, labels, smoothing):
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    q = (1 - smoothing) * np.eye(p.shape[1])[labels] + smoothing / p.shape[1]
    return (p - q) / len(p)
''',
        ),
        (
            "the whole smoothing on every class (not divided by the number of classes)",
            '''
def softmax_cross_entropy_grad(logits, labels, smoothing):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    q = (1 - smoothing) * np.eye(p.shape[1])[labels] + smoothing
    return (p - q) / len(p)
''',
        ),
        (
            "target minus probabilities (the descent direction, not the gradient)",
            '''
def softmax_cross_entropy_grad(logits, labels, smoothing):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    q = (1 - smoothing) * np.eye(p.shape[1])[labels] + smoothing / p.shape[1]
    return (q - p) / len(p)
''',
        ),
        (
            "lets the tape answer (TensorFlow through an alias)",
            '''
import tensorflow as _t

def softmax_cross_entropy_grad(logits, labels, smoothing):
    c = logits.shape[1]
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    z = _t.constant(logits, dtype=_t.float64)
    with _t.GradientTape() as tape:
        tape.watch(z)
        loss = _t.reduce_mean(_t.nn.softmax_cross_entropy_with_logits(_t.constant(q), z))
    return tape.gradient(loss, z).numpy()
''',
        ),
        (
            "central differences of the NumPy loss (an estimate, not the gradient)",
            '''
def softmax_cross_entropy_grad(logits, labels, smoothing):
    z0 = np.asarray(logits, dtype=float)
    n, c = z0.shape
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    def mean_loss(z):
        m = z.max(axis=1, keepdims=True)
        return np.mean(m[:, 0] + np.log(np.exp(z - m).sum(axis=1)) - (q * z).sum(axis=1))
    g = np.zeros_like(z0)
    for idx in np.ndindex(z0.shape):
        h = 1e-4 * max(1.0, abs(z0[idx]))
        e = np.zeros_like(z0)
        e[idx] = h
        g[idx] = (mean_loss(z0 + e) - mean_loss(z0 - e)) / (2 * h)
    return g
''',
        ),
        (
            "logits instead of probabilities",
            '''
def softmax_cross_entropy_grad(logits, labels, smoothing):
    q = (1 - smoothing) * np.eye(logits.shape[1])[labels] + smoothing / logits.shape[1]
    return (logits - q) / len(logits)
''',
        ),
    ],
    taught=["z = z - z.max(axis=1, keepdims=True)"],
)


QUIZ = Answers(
    solution='''
quiz_answers = {"q1": 0.3333, "q2": "D", "q3": "B", "q4": -0.5, "q5": "A"}
''',
    wrong=[
        (
            "threshold 1/f'', the tape differentiates the values, one backward pass per weight, slope = length",
            '''
quiz_answers = {"q1": 0.1667, "q2": "A", "q3": "C", "q4": 0.5, "q5": "C"}
''',
        ),
    ],
)
