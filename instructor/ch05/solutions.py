"""Reference solutions and plausible wrong answers for chapter 5's exercises (instructors only).

One ``Answers`` per exercise (the reference solution a student could paste into the exercise cell,
the wrong answers the checks must reject, code the chapter shows on purpose), under a name of its own;
checks.py attaches each to its exercise's record, so no exercise id is typed here.
"""

from __future__ import annotations

from course_utils.grading.kit import Answers

TTA = Answers(
    solution='''
def tta_predict(model, images, shifts):
    images = np.asarray(images, dtype="float32")
    height, width = images.shape[1], images.shape[2]
    total = 0.0
    for dx, dy in shifts:
        moved = np.zeros_like(images)
        moved[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = images[
            :, max(-dy, 0):height - max(dy, 0), max(-dx, 0):width - max(dx, 0)]
        logits = np.asarray(model.predict(moved, verbose=0), dtype="float64")
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        total = total + probs / probs.sum(axis=1, keepdims=True)
    return total / len(shifts)
''',
    wrong=[
        (
            "np.roll: pixels wrap around instead of zeros coming in",
            '''
def tta_predict(model, images, shifts):
    probs = [keras.ops.softmax(model.predict(np.roll(images, (dy, dx), axis=(1, 2)), verbose=0))
             for dx, dy in shifts]
    return np.mean([np.asarray(p) for p in probs], axis=0)
''',
        ),
        (
            "dx and dy swapped",
            '''
def tta_predict(model, images, shifts):
    h, w = images.shape[1:3]
    out = 0
    for dy, dx in shifts:
        moved = np.zeros_like(images)
        moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = images[
            :, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
        out = out + np.asarray(keras.ops.softmax(model.predict(moved, verbose=0)))
    return out / len(shifts)
''',
        ),
        (
            "shifts the wrong way",
            '''
def tta_predict(model, images, shifts):
    h, w = images.shape[1:3]
    out = 0
    for dx, dy in shifts:
        dx, dy = -dx, -dy
        moved = np.zeros_like(images)
        moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = images[
            :, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
        out = out + np.asarray(keras.ops.softmax(model.predict(moved, verbose=0)))
    return out / len(shifts)
''',
        ),
        (
            "averages the logits, then one softmax",
            '''
def tta_predict(model, images, shifts):
    h, w = images.shape[1:3]
    out = 0
    for dx, dy in shifts:
        moved = np.zeros_like(images)
        moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = images[
            :, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
        out = out + model.predict(moved, verbose=0)
    return np.asarray(keras.ops.softmax(out / len(shifts)))
''',
        ),
        (
            "runs the model in training mode (dropout active)",
            '''
def tta_predict(model, images, shifts):
    h, w = images.shape[1:3]
    out = 0
    for dx, dy in shifts:
        moved = np.zeros_like(images)
        moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = images[
            :, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
        out = out + np.asarray(keras.ops.softmax(model(moved, training=True)))
    return out / len(shifts)
''',
        ),
        (
            "adds the unshifted images to every set of shifts",
            '''
def tta_predict(model, images, shifts):
    h, w = images.shape[1:3]
    out = np.asarray(keras.ops.softmax(model.predict(images, verbose=0)))
    for dx, dy in shifts:
        if (dx, dy) == (0, 0):
            continue
        moved = np.zeros_like(images)
        moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = images[
            :, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
        out = out + np.asarray(keras.ops.softmax(model.predict(moved, verbose=0)))
    return out / (1 + sum(1 for s in shifts if tuple(s) != (0, 0)))
''',
        ),
    ],
)


CUTOUT = Answers(
    solution='''
def cutout(images, size, rng):
    out = np.array(images, copy=True)
    height, width = out.shape[1], out.shape[2]
    for i in range(len(out)):
        top = int(rng.integers(0, height)) - size // 2
        left = int(rng.integers(0, width)) - size // 2
        out[i, max(top, 0):max(top + size, 0), max(left, 0):max(left + size, 0)] = 0
    return out
''',
    wrong=[
        (
            "zeroes the caller's images in place",
            '''
def cutout(images, size, rng):
    h, w = images.shape[1:3]
    for i in range(len(images)):
        r, c = int(rng.integers(0, h)) - size // 2, int(rng.integers(0, w)) - size // 2
        images[i, max(r, 0):max(r + size, 0), max(c, 0):max(c + size, 0)] = 0
    return images
''',
        ),
        (
            "one square at the same place for the whole batch",
            '''
def cutout(images, size, rng):
    out = images.copy()
    h, w = images.shape[1:3]
    r, c = int(rng.integers(0, h)) - size // 2, int(rng.integers(0, w)) - size // 2
    out[:, max(r, 0):max(r + size, 0), max(c, 0):max(c + size, 0)] = 0
    return out
''',
        ),
        (
            "squares always inside the image (never clipped)",
            '''
def cutout(images, size, rng):
    out = images.copy()
    h, w = images.shape[1:3]
    for i in range(len(out)):
        r, c = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        out[i, r:r + size, c:c + size] = 0
    return out
''',
        ),
        (
            "centre plus or minus size // 2: one pixel too many for even sizes",
            '''
def cutout(images, size, rng):
    out = images.copy()
    h, w = images.shape[1:3]
    for i in range(len(out)):
        r, c = int(rng.integers(0, h)), int(rng.integers(0, w))
        out[i, max(r - size // 2, 0):r + size // 2 + 1, max(c - size // 2, 0):c + size // 2 + 1] = 0
    return out
''',
        ),
        (
            "negative start indices wrap around (no clipping at the top and left)",
            '''
def cutout(images, size, rng):
    out = images.copy()
    h, w = images.shape[1:3]
    for i in range(len(out)):
        r, c = int(rng.integers(0, h)) - size // 2, int(rng.integers(0, w)) - size // 2
        out[i, r:r + size, c:c + size] = 0
    return out
''',
        ),
        (
            "NumPy's global generator instead of rng",
            '''
def cutout(images, size, rng):
    out = images.copy()
    h, w = images.shape[1:3]
    for i in range(len(out)):
        r, c = np.random.randint(0, h) - size // 2, np.random.randint(0, w) - size // 2
        out[i, max(r, 0):max(r + size, 0), max(c, 0):max(c + size, 0)] = 0
    return out
''',
        ),
    ],
)


FIX_SETUP = Answers(
    solution='''
def make_optimizer_and_loss(peak_lr, epochs, steps_per_epoch, warmup_fraction=0.1,
                            smoothing=0.1, weight_decay=1e-4):
    total = epochs * steps_per_epoch  # Keras' schedules count optimizer steps
    warmup = int(round(warmup_fraction * total))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total - warmup, warmup_target=peak_lr, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)

    def loss(y_true, logits):
        labels = keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))
        targets = keras.ops.one_hot(labels, 10) * (1.0 - smoothing) + smoothing / 10
        log_probs = keras.ops.log_softmax(logits, axis=-1)
        return -keras.ops.mean(keras.ops.sum(targets * log_probs, axis=-1))

    return optimizer, loss
''',
    wrong=[
        (
            "the given version: horizon in epochs, smoothing lost, logits read as probabilities",
            '''
def make_optimizer_and_loss(peak_lr, epochs, steps_per_epoch, warmup_fraction=0.1,
                            smoothing=0.1, weight_decay=1e-4):
    warmup = int(warmup_fraction * epochs)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=epochs, warmup_target=peak_lr, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    loss = keras.losses.SparseCategoricalCrossentropy()
    return optimizer, loss
''',
        ),
        (
            "schedule fixed, the loss still without smoothing",
            '''
def make_optimizer_and_loss(peak_lr, epochs, steps_per_epoch, warmup_fraction=0.1,
                            smoothing=0.1, weight_decay=1e-4):
    total = epochs * steps_per_epoch
    warmup = int(round(warmup_fraction * total))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total - warmup, warmup_target=peak_lr, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    return optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
''',
        ),
        (
            "decay_steps = all steps: the cosine is cut before it reaches 0",
            '''
def make_optimizer_and_loss(peak_lr, epochs, steps_per_epoch, warmup_fraction=0.1,
                            smoothing=0.1, weight_decay=1e-4):
    total = epochs * steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total, warmup_target=peak_lr, warmup_steps=int(round(warmup_fraction * total)))
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    def loss(y_true, y_pred):
        return smoothed(keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), 10), y_pred)
    return optimizer, loss
''',
        ),
        (
            "smoothing fixed, but the loss still reads logits as probabilities",
            '''
def make_optimizer_and_loss(peak_lr, epochs, steps_per_epoch, warmup_fraction=0.1,
                            smoothing=0.1, weight_decay=1e-4):
    total = epochs * steps_per_epoch
    warmup = int(round(warmup_fraction * total))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total - warmup, warmup_target=peak_lr, warmup_steps=warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=weight_decay)
    smoothed = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    def loss(y_true, y_pred):
        return smoothed(keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), 10), y_pred)
    return optimizer, loss
''',
        ),
        (
            "Adam instead of AdamW: the weight decay is dropped",
            '''
def make_optimizer_and_loss(peak_lr, epochs, steps_per_epoch, warmup_fraction=0.1,
                            smoothing=0.1, weight_decay=1e-4):
    total = epochs * steps_per_epoch
    warmup = int(round(warmup_fraction * total))
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total - warmup, warmup_target=peak_lr, warmup_steps=warmup)
    smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing)
    def loss(y_true, y_pred):
        return smoothed(keras.ops.one_hot(keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32"), 10), y_pred)
    return keras.optimizers.Adam(learning_rate=schedule), loss
''',
        ),
    ],
)


RACE_WINNER = Answers(
    solution='''
def race_winner(runs, target):
    best_name, best_time = None, None
    for name, seeds in runs.items():
        times = []
        for run in seeds:
            reached = [seconds for seconds, accuracy in run if accuracy >= target]
            if not reached:
                break
            times.append(reached[0])
        else:
            typical = float(np.median(times))
            if best_time is None or typical < best_time:
                best_name, best_time = name, typical
    return best_name
''',
    wrong=[
        (
            "counts epochs instead of seconds",
            '''
def race_winner(runs, target):
    best = None
    for name, seeds in runs.items():
        epochs = []
        for run in seeds:
            hits = [i for i, (_, acc) in enumerate(run) if acc >= target]
            epochs.append(hits[0] if hits else None)
        if None in epochs:
            continue
        if best is None or np.median(epochs) < best[1]:
            best = (name, np.median(epochs))
    return best and best[0]
''',
        ),
        (
            "the best seed instead of the typical one",
            '''
def race_winner(runs, target):
    best = None
    for name, seeds in runs.items():
        times = [next((t for t, acc in run if acc >= target), np.inf) for run in seeds]
        if min(times) < np.inf and (best is None or min(times) < best[1]):
            best = (name, min(times))
    return best and best[0]
''',
        ),
        (
            "ignores the seeds that never reach the target",
            '''
def race_winner(runs, target):
    best = None
    for name, seeds in runs.items():
        times = [next((t for t, acc in run if acc >= target), None) for run in seeds]
        times = [t for t in times if t is not None]
        if times and (best is None or np.median(times) < best[1]):
            best = (name, np.median(times))
    return best and best[0]
''',
        ),
        (
            "the highest final accuracy",
            '''
def race_winner(runs, target):
    finals = {name: np.median([run[-1][1] for run in seeds]) for name, seeds in runs.items()}
    name = max(finals, key=finals.get)
    return name if finals[name] >= target else None
''',
        ),
        (
            "accuracy strictly above the target",
            '''
def race_winner(runs, target):
    best = None
    for name, seeds in runs.items():
        times = [next((t for t, acc in run if acc > target), np.inf) for run in seeds]
        if max(times) < np.inf and (best is None or np.median(times) < best[1]):
            best = (name, np.median(times))
    return best and best[0]
''',
        ),
        (
            "the mean time, which one slow seed drags",
            '''
def race_winner(runs, target):
    best = None
    for name, seeds in runs.items():
        times = [next((t for t, acc in run if acc >= target), np.inf) for run in seeds]
        if max(times) < np.inf and (best is None or np.mean(times) < best[1]):
            best = (name, np.mean(times))
    return best and best[0]
''',
        ),
    ],
)


QUIZ = Answers(
    solution='''
quiz_answers = {"q1": "A", "q2": 12, "q3": "B", "q4": "B", "q5": "C", "q6": "B"}
''',
    wrong=[
        (
            "epochs as the clock, best test epoch, augmentation blamed, bf16 halves the time",
            '''
quiz_answers = {"q1": "C", "q2": 5, "q3": "A", "q4": "A", "q5": "A", "q6": "C"}
''',
        ),
    ],
)
