"""Reference solutions and plausible wrong answers for chapter 1, part 2's exercises (instructors only).

One ``Answers`` per exercise (the reference solution a student could paste into the exercise cell,
the wrong answers the checks must reject, code the chapter shows on purpose), under a name of its own;
checks.py attaches each to its exercise's record, so no exercise id is typed here.
"""

from __future__ import annotations

from course_utils.grading.kit import Answers

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
        (
            "judges the size of x (assumes the minimum at the origin)",
            '''
def largest_stable_lr(grad_fn, x0, candidates, steps=100):
    ok = []
    for lr in candidates:
        x = np.array(x0, dtype=float)
        with np.errstate(all="ignore"):
            for _ in range(steps):
                x = x - lr * grad_fn(x)
        if np.all(np.isfinite(x)) and np.linalg.norm(x) < np.linalg.norm(x0):
            ok.append(lr)
    return max(ok) if ok else None
''',
        ),
        (
            "compares the final gradient with the one after the first step",
            '''
def largest_stable_lr(grad_fn, x0, candidates, steps=100):
    ok = []
    for lr in candidates:
        x = np.array(x0, dtype=float)
        with np.errstate(all="ignore"):
            x = x - lr * grad_fn(x)
            after_first = np.linalg.norm(grad_fn(x))
            for _ in range(steps - 1):
                x = x - lr * grad_fn(x)
            end = np.linalg.norm(grad_fn(x))
        if np.isfinite(end) and end < after_first:
            ok.append(lr)
    return max(ok) if ok else None
''',
        ),
        (
            "asks for a lower gradient norm at every step",
            '''
def largest_stable_lr(grad_fn, x0, candidates, steps=100):
    ok = []
    for lr in candidates:
        x = np.array(x0, dtype=float)
        previous = np.linalg.norm(grad_fn(x))
        good = True
        with np.errstate(all="ignore"):
            for _ in range(steps):
                x = x - lr * grad_fn(x)
                now = np.linalg.norm(grad_fn(x))
                if not now < previous:
                    good = False
                    break
                previous = now
        if good:
            ok.append(lr)
    return max(ok) if ok else None
''',
        ),
    ],
)


_FIX_TRAINING_LOOP_LOOPS = Answers(
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

# The exercise also asks for its diagnosis: `bugs`, the letters of the three statements that are
# bugs (B: labels sliced in the original order, E: logits treated as probabilities, G: the update
# climbs). The reference names them; every wrong loop names a plausible wrong set, so that it is
# judged on its loop (its diagnosis would earn half the points only with a working loop).
FIX_TRAINING_LOOP = Answers(
    solution=_FIX_TRAINING_LOOP_LOOPS.solution + '\nbugs = {"B", "E", "G"}\n',
    wrong=[
        (what, source + '\nbugs = {"B", "D", "G"}\n')
        for what, source in [
            *_FIX_TRAINING_LOOP_LOOPS.wrong,
            (
                "trains with the course's train_curves, whose batches come in the same order",
                '''
def train_softmax_regression(x, y, epochs, batch_size, lr, seed):
    from course_utils.experiments import train_curves
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(int(y.max()) + 1)])
    probs = keras.Sequential([model, keras.layers.Softmax()])  # shares the Dense layer
    train_curves(probs, x, y, x[:1], y[:1], epochs, batch_size=batch_size,
                 optimizer=keras.optimizers.SGD(lr), seed=seed)
    return model
''',
            ),
        ]
    ],
    taught=_FIX_TRAINING_LOOP_LOOPS.taught,
)


QUIZ = Answers(
    solution='''
quiz_answers = {"q1": "B", "q2": "A", "q3": "C"}
''',
    wrong=[
        (
            "float64 against overflow, summed batch gradients, a small ratio read as vanishing",
            '''
quiz_answers = {"q1": "A", "q2": "C", "q3": "D"}
''',
        ),
    ],
)
