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
            "a default step of 0.5 instead of 1e-5",
            '''
def central_difference(f, x, h=0.5):
    base = np.array(x, dtype=float)
    out_shape = np.shape(f(base.copy()))
    jac = np.empty(out_shape + base.shape)
    for index in np.ndindex(base.shape):
        up, down = base.copy(), base.copy()
        up[index] += h
        down[index] -= h
        jac[(Ellipsis, *index)] = (np.asarray(f(up), float) - np.asarray(f(down), float)) / (2 * h)
    return jac
''',
        ),
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


BRIER_GRAD = Answers(
    solution='''
def brier_score_grad(logits, labels, smoothing):
    z = np.asarray(logits, dtype=float)
    n, c = z.shape
    z = z - z.max(axis=1, keepdims=True)  # the largest exponent is 0: no overflow
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    q = np.full((n, c), smoothing / c)
    q[np.arange(n), np.asarray(labels)] += 1.0 - smoothing
    d = 2.0 * (p - q) / n  # dL/dp: the squared error, averaged over the batch
    # times each row's softmax Jacobian diag(p) - p p^T, without building it
    return p * (d - (d * p).sum(axis=1, keepdims=True))
''',
    wrong=[
        (
            "no max-subtraction, exp in 80-bit np.longdouble (overflows above about 11356)",
            '''
def brier_score_grad(logits, labels, smoothing):
    z = np.asarray(logits, dtype=np.longdouble)
    n, c = z.shape
    with np.errstate(all="ignore"):
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
    q = np.full((n, c), smoothing / c)
    q[np.arange(n), np.asarray(labels)] += 1.0 - smoothing
    d = 2.0 * (p - q) / n
    return (p * (d - (d * p).sum(axis=1, keepdims=True))).astype(float)
''',
        ),
        (
            "the cross-entropy's gradient (p - q) / n, the chapter's formula",
            '''
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

def brier_score_grad(logits, labels, smoothing):
    n, c = logits.shape
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    return (softmax(logits) - q) / n
''',
        ),
        (
            'the diagonal of the softmax derivative only, p (1 - p)',
            '''
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

def brier_score_grad(logits, labels, smoothing):
    n, c = logits.shape
    p = softmax(logits)
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    return 2 * (p - q) * p * (1 - p) / n
''',
        ),
        (
            'the gradient with respect to the probabilities (no softmax derivative)',
            '''
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

def brier_score_grad(logits, labels, smoothing):
    n, c = logits.shape
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    return 2 * (softmax(logits) - q) / n
''',
        ),
        (
            'sum over the batch instead of the mean',
            '''
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

def brier_score_grad(logits, labels, smoothing):
    n, c = logits.shape
    p = softmax(logits)
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    d = 2 * (p - q)
    return p * (d - (d * p).sum(axis=1, keepdims=True))
''',
        ),
        (
            'forgets the factor 2 of the square',
            '''
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

def brier_score_grad(logits, labels, smoothing):
    n, c = logits.shape
    p = softmax(logits)
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    d = (p - q) / n
    return p * (d - (d * p).sum(axis=1, keepdims=True))
''',
        ),
        (
            'ignores the smoothing',
            '''
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)

def brier_score_grad(logits, labels, smoothing):
    n, c = logits.shape
    p = softmax(logits)
    d = 2 * (p - np.eye(c)[labels]) / n
    return p * (d - (d * p).sum(axis=1, keepdims=True))
''',
        ),
        (
            'softmax without subtracting the maximum (overflows)',
            '''

def brier_score_grad(logits, labels, smoothing):
    n, c = logits.shape
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    d = 2 * (p - q) / n
    return p * (d - (d * p).sum(axis=1, keepdims=True))
''',
        ),
        (
            'lets the tape answer (TensorFlow through an alias)',
            '''

import tensorflow as _t

def brier_score_grad(logits, labels, smoothing):
    n, c = logits.shape
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    z = _t.constant(logits, dtype=_t.float64)
    with _t.GradientTape() as tape:
        tape.watch(z)
        loss = _t.reduce_mean(_t.reduce_sum((_t.nn.softmax(z) - q) ** 2, axis=1))
    return tape.gradient(loss, z).numpy()
''',
        ),
        (
            'a complex-step derivative per entry (exact, but millions of loss evaluations)',
            '''

def brier_score_grad(logits, labels, smoothing):
    z0 = np.asarray(logits, dtype=float)
    n, c = z0.shape
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    def mean_loss(z):
        e = np.exp(z - z.real.max(axis=1, keepdims=True))
        return np.sum((e / e.sum(axis=1, keepdims=True) - q) ** 2) / n
    g = np.zeros_like(z0)
    for idx in np.ndindex(z0.shape):
        e = np.zeros(z0.shape, dtype=complex)
        e[idx] = 1e-30j
        g[idx] = mean_loss(z0 + e).imag / 1e-30
    return g
''',
        ),
        (
            'central differences per entry (an estimate, and millions of loss evaluations)',
            '''

def brier_score_grad(logits, labels, smoothing):
    z0 = np.asarray(logits, dtype=float)
    n, c = z0.shape
    q = (1 - smoothing) * np.eye(c)[labels] + smoothing / c
    def mean_loss(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return np.sum((e / e.sum(axis=1, keepdims=True) - q) ** 2) / n
    g = np.zeros_like(z0)
    for idx in np.ndindex(z0.shape):
        h = 1e-5 * max(1.0, abs(z0[idx]))
        e = np.zeros_like(z0)
        e[idx] = h
        g[idx] = (mean_loss(z0 + e) - mean_loss(z0 - e)) / (2 * h)
    return g
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
