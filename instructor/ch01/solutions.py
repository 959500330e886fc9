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


STABLE_LR = Answers(
    solution='''
def largest_stable_lr(grad_fn, x0, candidates, steps=100):
    start_norm = np.linalg.norm(grad_fn(np.array(x0, dtype=float)))
    stable = []
    for lr in candidates:
        point = np.array(x0, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(steps):
                point = point - lr * grad_fn(point)
            end_norm = np.linalg.norm(grad_fn(point))
        if np.isfinite(end_norm) and end_norm < start_norm:
            stable.append(lr)
    return max(stable) if stable else None
''',
    wrong=[
        (
            "judges a rate by its first step only",
            '''
def largest_stable_lr(grad_fn, x0, candidates, steps=100):
    x0 = np.array(x0, dtype=float)
    g0 = grad_fn(x0)
    ok = [lr for lr in candidates if np.linalg.norm(grad_fn(x0 - lr * g0)) < np.linalg.norm(g0)]
    return max(ok) if ok else None
''',
        ),
        (
            "assumes the candidates are sorted",
            '''
def largest_stable_lr(grad_fn, x0, candidates, steps=100):
    best = None
    for lr in candidates:
        x = np.array(x0, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(steps):
                x = x - lr * grad_fn(x)
            if not np.linalg.norm(grad_fn(x)) < np.linalg.norm(grad_fn(np.array(x0, dtype=float))):
                return best
        best = lr
    return best
''',
        ),
        (
            "ignores steps (always 100 steps)",
            '''
def largest_stable_lr(grad_fn, x0, candidates, steps=100):
    start = np.linalg.norm(grad_fn(np.array(x0, dtype=float)))
    stable = []
    for lr in candidates:
        x = np.array(x0, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(100):
                x = x - lr * grad_fn(x)
            end = np.linalg.norm(grad_fn(x))
        if np.isfinite(end) and end < start:
            stable.append(lr)
    return max(stable) if stable else None
''',
        ),
        (
            "the smallest stable rate",
            '''
def largest_stable_lr(grad_fn, x0, candidates, steps=100):
    for lr in sorted(candidates):
        x = np.array(x0, dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(steps):
                x = x - lr * grad_fn(x)
            if np.linalg.norm(grad_fn(x)) < np.linalg.norm(grad_fn(np.array(x0, dtype=float))):
                return lr
    return None
''',
        ),
    ],
)


FIX_TRAINING_LOOP = Answers(
    solution='''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    xent = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # the model outputs logits
    shuffler = np.random.default_rng(seed)
    for _ in range(epochs):
        perm = shuffler.permutation(len(x))
        for first in range(0, len(x), batch_size):
            rows = perm[first:first + batch_size]  # the same rows of x and of y
            with tf.GradientTape() as tape:
                batch_loss = xent(y[rows], model(x[rows]))
            for w, dw in zip(model.trainable_variables, tape.gradient(batch_loss, model.trainable_variables)):
                w.assign_sub(lr * dw)  # downhill
    return model
''',
    wrong=[
        (
            "fixes the labels only (still no from_logits, still uphill)",
            '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            with tf.GradientTape() as tape:
                loss = loss_fn(y[batch], model(x[batch]))
            grads = tape.gradient(loss, model.trainable_variables)
            for variable, grad in zip(model.trainable_variables, grads):
                variable.assign_add(lr * grad)
    return model
''',
        ),
        (
            "fixes the step and the loss, not the labels",
            '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            xb = x[order[i:i + batch_size]]
            yb = y[i:i + batch_size]
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb))
            grads = tape.gradient(loss, model.trainable_variables)
            for variable, grad in zip(model.trainable_variables, grads):
                variable.assign_sub(lr * grad)
    return model
''',
        ),
        (
            "lets Keras' fit train (no loop, batch order ignored)",
            '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    model.compile(optimizer=keras.optimizers.SGD(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return model
''',
        ),
        (
            "drops the permutation (batches in the data's order)",
            '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for epoch in range(epochs):
        for i in range(0, len(x), batch_size):
            with tf.GradientTape() as tape:
                loss = loss_fn(y[i:i + batch_size], model(x[i:i + batch_size]))
            grads = tape.gradient(loss, model.trainable_variables)
            for variable, grad in zip(model.trainable_variables, grads):
                variable.assign_sub(lr * grad)
    return model
''',
        ),
        (
            "ignores epochs (always one epoch)",
            '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(seed)
    for epoch in range(1):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            with tf.GradientTape() as tape:
                loss = loss_fn(y[batch], model(x[batch]))
            grads = tape.gradient(loss, model.trainable_variables)
            for variable, grad in zip(model.trainable_variables, grads):
                variable.assign_sub(lr * grad)
    return model
''',
        ),
        (
            "one permutation reused for every epoch",
            '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    order = np.random.default_rng(seed).permutation(len(x))
    for epoch in range(epochs):
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            with tf.GradientTape() as tape:
                loss = loss_fn(y[batch], model(x[batch]))
            grads = tape.gradient(loss, model.trainable_variables)
            for variable, grad in zip(model.trainable_variables, grads):
                variable.assign_sub(lr * grad)
    return model
''',
        ),
        (
            "lets the course's train_loop train (the loop the exercise asks for)",
            '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    from course_utils.training import train_loop
    train_loop(model, x, y, loss_fn, epochs=epochs, batch_size=batch_size, lr=lr, shuffle_seed=seed)
    return model
''',
        ),
        (
            "fixes the labels and the step, not the loss",
            '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            with tf.GradientTape() as tape:
                loss = loss_fn(y[batch], model(x[batch]))
            grads = tape.gradient(loss, model.trainable_variables)
            for variable, grad in zip(model.trainable_variables, grads):
                variable.assign_sub(lr * grad)
    return model
''',
        ),
    ],
)


QUIZ = Answers(
    solution='''
quiz_answers = {"q1": 0.3333, "q2": "B", "q3": "A", "q4": -0.5, "q5": "C"}
''',
    wrong=[
        (
            "threshold 1/f'', float64 against overflow, summed batch gradients, a small ratio read as vanishing",
            '''
quiz_answers = {"q1": 0.1667, "q2": "A", "q3": "C", "q4": 0.5, "q5": "D"}
''',
        ),
    ],
)
