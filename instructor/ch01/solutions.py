"""Reference solutions and plausible wrong answers for chapter 1's exercises (instructors only).

SOLUTIONS maps each exercise id to the source a student could paste into the exercise cell;
WRONG maps each id to a list of (name, source) pairs that the hidden checks must reject.
"""

from __future__ import annotations

SOLUTIONS: dict[str, str] = {
    "ch01.central-difference": '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (f(x + step) - f(x - step)) / (2 * h)
    return grad
''',
    "ch01.gd-step": '''
def gd_step(x, grad, lr):
    return x - lr * grad
''',
    "ch01.gradient-descent": '''
def gradient_descent(grad_fn, x0, lr, tol, max_steps):
    x = np.array(x0, dtype=float)
    n_steps = 0
    while n_steps < max_steps:
        g = grad_fn(x)
        if np.linalg.norm(g) < tol:
            break
        x = x - lr * g
        n_steps += 1
    return x, n_steps
''',
    "ch01.loss-gradients": '''
def loss_gradients(model, x, y, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    return tape.gradient(loss, model.trainable_variables)
''',
    "ch01.clip-global-norm": '''
def clip_by_global_norm(grads, clip_norm):
    global_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
    scale = clip_norm / max(global_norm, clip_norm)
    return [np.asarray(g) * scale for g in grads], global_norm
''',
    "ch01.quiz": '''
quiz_answers = {"q1": 0.5, "q2": "B", "q3": 240, "q4": "B", "q5": -0.5}
''',
}

WRONG: dict[str, list[tuple[str, str]]] = {
    "ch01.central-difference": [
        ("forward difference", '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (f(x + step) - f(x)) / h
    return grad
'''),
        ("divides by h instead of 2h", '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (f(x + step) - f(x - step)) / h
    return grad
'''),
        ("only works for vectors (flattens)", '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float).ravel()
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad
'''),
        ("ignores h", '''
def central_difference(f, x, h=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = 1e-5
        grad[idx] = (f(x + step) - f(x - step)) / (2 * 1e-5)
    return grad
'''),
    ],
    "ch01.gd-step": [
        ("steps uphill", '''
def gd_step(x, grad, lr):
    return x + lr * grad
'''),
        ("ignores the learning rate", '''
def gd_step(x, grad, lr):
    return x - grad
'''),
        ("returns the step, not the point", '''
def gd_step(x, grad, lr):
    return -lr * grad
'''),
    ],
    "ch01.gradient-descent": [
        ("never stops early", '''
def gradient_descent(grad_fn, x0, lr, tol, max_steps):
    x = np.array(x0, dtype=float)
    for _ in range(max_steps):
        x = x - lr * grad_fn(x)
    return x, max_steps
'''),
        ("counts one step too many", '''
def gradient_descent(grad_fn, x0, lr, tol, max_steps):
    x = np.array(x0, dtype=float)
    n_steps = 0
    while n_steps < max_steps:
        g = grad_fn(x)
        n_steps += 1
        if np.linalg.norm(g) < tol:
            break
        x = x - lr * g
    return x, n_steps
'''),
        ("steps uphill", '''
def gradient_descent(grad_fn, x0, lr, tol, max_steps):
    x = np.array(x0, dtype=float)
    n_steps = 0
    while n_steps < max_steps:
        g = grad_fn(x)
        if np.linalg.norm(g) < tol:
            break
        x = x + lr * g
        n_steps += 1
    return x, n_steps
'''),
        ("stops on the size of the step instead of the gradient", '''
def gradient_descent(grad_fn, x0, lr, tol, max_steps):
    x = np.array(x0, dtype=float)
    n_steps = 0
    while n_steps < max_steps:
        g = grad_fn(x)
        if np.linalg.norm(lr * g) < tol:
            break
        x = x - lr * g
        n_steps += 1
    return x, n_steps
'''),
    ],
    "ch01.loss-gradients": [
        ("loss arguments swapped", '''
def loss_gradients(model, x, y, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(model(x), y)
    return tape.gradient(loss, model.trainable_variables)
'''),
        ("only the kernels", '''
def loss_gradients(model, x, y, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    kernels = [v for v in model.trainable_variables if v.path.endswith("kernel")]
    return tape.gradient(loss, kernels)
'''),
        ("applies an optimizer step", '''
def loss_gradients(model, x, y, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    keras.optimizers.SGD(0.1).apply(grads, model.trainable_variables)
    return grads
'''),
        ("sums the per-example losses", '''
def loss_gradients(model, x, y, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x)) * len(x)
    return tape.gradient(loss, model.trainable_variables)
'''),
    ],
    "ch01.clip-global-norm": [
        ("clips each tensor on its own", '''
def clip_by_global_norm(grads, clip_norm):
    global_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
    return [g * min(1.0, clip_norm / np.linalg.norm(g)) for g in grads], global_norm
'''),
        ("always rescales to clip_norm", '''
def clip_by_global_norm(grads, clip_norm):
    global_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
    return [g * clip_norm / global_norm for g in grads], global_norm
'''),
        ("sum of norms instead of the global norm", '''
def clip_by_global_norm(grads, clip_norm):
    global_norm = float(sum(np.linalg.norm(g) for g in grads))
    scale = clip_norm / max(global_norm, clip_norm)
    return [g * scale for g in grads], global_norm
'''),
        ("clips every value instead", '''
def clip_by_global_norm(grads, clip_norm):
    global_norm = float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))
    return [np.clip(g, -clip_norm, clip_norm) for g in grads], global_norm
'''),
    ],
    "ch01.quiz": [
        ("threshold 1/lambda, batch-size misconception", '''
quiz_answers = {"q1": 0.25, "q2": "A", "q3": 240, "q4": "A", "q5": 0.5}
'''),
    ],
}
