"""Reference solutions and plausible wrong answers for chapter 0's exercises (instructors only).

One ``Answers`` per exercise (the reference solution a student could paste into the exercise cell,
and (name, source) pairs of wrong answers that the checks must reject), under a name of its own;
checks.py attaches each to its exercise's record, so no exercise id is typed here. Each wrong
answer is a mistake students really make, so the proof tests also show that its hint is useful.
"""

from __future__ import annotations

from course_utils.grading.kit import Answers

TOP_K_ACCURACY = Answers(
    solution='''
def top_k_accuracy(probs, labels, k):
    probs = np.asarray(probs)
    p_label = probs[np.arange(len(probs)), np.asarray(labels)]
    n_above = np.count_nonzero(probs > p_label[:, None], axis=1)  # classes ranked above the label
    return float(np.mean(n_above < k))
''',
    wrong=[
        (
            "the k least probable classes (ascending argsort)",
            '''
def top_k_accuracy(probs, labels, k):
    top = np.argsort(probs, axis=1)[:, :k]
    return float(np.mean([label in row for label, row in zip(labels, top)]))
''',
        ),
        (
            "counts the label's own class, so only k - 1 others fit",
            '''
def top_k_accuracy(probs, labels, k):
    probs = np.asarray(probs)
    p_label = probs[np.arange(len(probs)), labels]
    return float(np.mean(np.count_nonzero(probs >= p_label[:, None], axis=1) < k))
''',
        ),
        (
            "ignores k (plain accuracy)",
            '''
def top_k_accuracy(probs, labels, k):
    return float(np.mean(np.argmax(probs, axis=1) == labels))
''',
        ),
        (
            "Keras' in_top_k through an alias (the exercise asks for NumPy)",
            '''
import keras.ops as K

def top_k_accuracy(probs, labels, k):
    hits = K.in_top_k(K.convert_to_tensor(labels), K.convert_to_tensor(probs), k)
    return float(np.mean(K.convert_to_numpy(hits)))
''',
        ),
        (
            "Keras' top-k metric under another name",
            '''
from keras import metrics as _m

def top_k_accuracy(probs, labels, k):
    metric = _m.SparseTopKCategoricalAccuracy(k=k)
    metric.update_state(labels, probs)
    return float(metric.result())
''',
        ),
        (
            "number of hits instead of the fraction",
            '''
def top_k_accuracy(probs, labels, k):
    top = np.argsort(probs, axis=1)[:, -k:]
    return float(sum(label in row for label, row in zip(labels, top)))
''',
        ),
    ],
)


EARLY_STOPPING = Answers(
    solution='''
def early_stopping(val_losses, patience, min_delta=0.0):
    best_epoch, lowest, stale = 0, float("inf"), 0
    for epoch, value in enumerate(val_losses, start=1):
        if value < lowest - min_delta:
            best_epoch, lowest, stale = epoch, value, 0
            continue
        stale += 1
        if stale >= patience:
            return epoch, best_epoch
    return len(val_losses), best_epoch
''',
    wrong=[
        (
            "compares with the previous epoch, not the best so far",
            '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best_epoch, stale = 1, 0
    for epoch in range(2, len(val_losses) + 1):
        if val_losses[epoch - 1] < val_losses[epoch - 2] - min_delta:
            stale = 0
            if val_losses[epoch - 1] < val_losses[best_epoch - 1]:
                best_epoch = epoch
        else:
            stale += 1
            if stale >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''',
        ),
        (
            "stops one epoch late (stale > patience)",
            '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best_epoch, lowest, stale = 0, float("inf"), 0
    for epoch, value in enumerate(val_losses, start=1):
        if value < lowest - min_delta:
            best_epoch, lowest, stale = epoch, value, 0
        else:
            stale += 1
            if stale > patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''',
        ),
        (
            "ignores min_delta",
            '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best_epoch, lowest, stale = 0, float("inf"), 0
    for epoch, value in enumerate(val_losses, start=1):
        if value < lowest:
            best_epoch, lowest, stale = epoch, value, 0
        else:
            stale += 1
            if stale >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''',
        ),
        (
            "drives keras.callbacks.EarlyStopping instead of replaying its rule",
            '''
_Stopper = keras.callbacks.EarlyStopping

def early_stopping(val_losses, patience, min_delta=0.0):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    stopper = _Stopper(monitor="val_loss", patience=patience, min_delta=min_delta,
                       restore_best_weights=True)
    model.stop_training = False
    stopper.set_model(model)
    stopper.on_train_begin()
    ran = 0
    for epoch, value in enumerate(val_losses):
        ran = epoch + 1
        stopper.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            break
    return ran, stopper.best_epoch + 1
''',
        ),
        (
            "counts a tie with the best value as an improvement (<=)",
            '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best_epoch, lowest, stale = 0, float("inf"), 0
    for epoch, value in enumerate(val_losses, start=1):
        if value <= lowest - min_delta:
            best_epoch, lowest, stale = epoch, value, 0
        else:
            stale += 1
            if stale >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''',
        ),
        (
            "lets the reference creep down to the lowest value seen, also on epochs that did not improve",
            '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best_epoch, lowest, stale = 0, float("inf"), 0
    for epoch, value in enumerate(val_losses, start=1):
        if value < lowest - min_delta:
            best_epoch, lowest, stale = epoch, value, 0
        else:
            lowest = min(lowest, value)
            stale += 1
            if stale >= patience:
                return epoch, best_epoch
    return len(val_losses), best_epoch
''',
        ),
        (
            "0-based epochs",
            '''
def early_stopping(val_losses, patience, min_delta=0.0):
    best_epoch, lowest, stale = 0, float("inf"), 0
    for epoch, value in enumerate(val_losses):
        if value < lowest - min_delta:
            best_epoch, lowest, stale = epoch, value, 0
        else:
            stale += 1
            if stale >= patience:
                return epoch, best_epoch
    return len(val_losses) - 1, best_epoch
''',
        ),
    ],
)


SPLIT_AND_SCALE = Answers(
    solution='''
def split_and_scale(images, labels, n_val, seed):
    shuffled = np.random.default_rng(seed).permutation(len(labels))
    x = np.asarray(images)[shuffled].astype("float32") / np.float32(255)
    y = np.asarray(labels)[shuffled]
    n_train = len(y) - n_val
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])
''',
    wrong=[
        (
            "a reversed, rotated order instead of a shuffle",
            '''
def split_and_scale(images, labels, n_val, seed):
    n = len(images)
    shift = int(np.random.default_rng(seed).integers(n))
    order = (shift - np.arange(n)) % n
    x = (images[order] / 255).astype("float32")
    y = labels[order]
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])
''',
        ),
        (
            "a rotation of the order instead of a shuffle",
            '''
def split_and_scale(images, labels, n_val, seed):
    n = len(labels)
    order = np.roll(np.arange(n), seed % (n - 1) + 1)
    x = np.asarray(images)[order].astype("float32") / np.float32(255)
    y = np.asarray(labels)[order]
    return (x[:n - n_val], y[:n - n_val]), (x[n - n_val:], y[n - n_val:])
''',
        ),
        (
            "divides by the largest pixel instead of 255",
            '''
def split_and_scale(images, labels, n_val, seed):
    order = np.random.default_rng(seed).permutation(len(labels))
    x = np.asarray(images)[order].astype("float32")
    x = x / x.max()
    y = np.asarray(labels)[order]
    n = len(labels) - n_val
    return (x[:n], y[:n]), (x[n:], y[n:])
''',
        ),
        (
            "shuffles the training part only: the validation set is the last n_val examples",
            '''
def split_and_scale(images, labels, n_val, seed):
    rng = np.random.default_rng(seed)
    n = len(labels) - n_val
    order = np.concatenate([rng.permutation(n), np.arange(n, len(labels))])
    x = images[order].astype("float32") / 255
    y = labels[order]
    return (x[:n], y[:n]), (x[n:], y[n:])
''',
        ),
        (
            "draws from NumPy's global random state",
            '''
def split_and_scale(images, labels, n_val, seed):
    np.random.seed(seed)
    order = np.random.permutation(len(labels))
    x = images[order].astype("float32") / 255
    y = labels[order]
    n = len(labels) - n_val
    return (x[:n], y[:n]), (x[n:], y[n:])
''',
        ),
        (
            "the original bug: two independent shuffles",
            '''
def split_and_scale(images, labels, n_val, seed):
    rng = np.random.default_rng(seed)
    x = np.array(images, dtype="float32") / 255
    y = np.array(labels)
    rng.shuffle(x)
    rng.shuffle(y)
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])
''',
        ),
        (
            "shuffles the caller's labels in place",
            '''
def split_and_scale(images, labels, n_val, seed):
    order = np.random.default_rng(seed).permutation(len(labels))
    labels[:] = labels[order]
    x = images[order].astype("float32") / 255
    return (x[:-n_val], labels[:-n_val]), (x[-n_val:], labels[-n_val:])
''',
        ),
        (
            "float64 pixels",
            '''
def split_and_scale(images, labels, n_val, seed):
    order = np.random.default_rng(seed).permutation(len(labels))
    x, y = images[order] / 255, labels[order]
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])
''',
        ),
        (
            "no shuffle: the validation set is the tail of the data",
            '''
def split_and_scale(images, labels, n_val, seed):
    x, y = images.astype("float32") / 255, np.array(labels)
    return (x[:-n_val], y[:-n_val]), (x[-n_val:], y[-n_val:])
''',
        ),
    ],
)


TRAIN_WITHIN_BUDGET = Answers(
    # 25 units is the widest single layer within 20,000 parameters (19,885). With 2,000 steps the
    # chapter's batch of 64 buys only two epochs; a batch of 512 buys 18 (108 steps each), and such
    # large, averaged batches support a larger learning rate, here decayed to 0 over the run.
    # Measurements (validation and test accuracy, seeds 0-2): see checks.py, next to TARGET.
    solution='''
def choose_recipe():  # 18 x ceil(55,000 / 512) = 1,944 steps
    return {"widths": [25], "batch_size": 512, "epochs": 18, "optimizer": "adam",
            "learning_rate": 0.01, "schedule": "cosine"}
''',
    wrong=[
        (
            "the chapter's own width: accurate, but five times the parameters allowed",
            '''
def choose_recipe():
    return {"widths": [128], "batch_size": 128, "epochs": 4, "optimizer": "adam",
            "learning_rate": 0.001, "schedule": "constant"}
''',
        ),
        (
            "the chapter's recipe narrowed to 25 units and cut to two epochs to fit the steps",
            '''
def choose_recipe():  # 2 x 860 = 1,720 steps
    return {"widths": [25], "batch_size": 64, "epochs": 2, "optimizer": "adam",
            "learning_rate": 0.001, "schedule": "constant"}
''',
        ),
        (
            "the seed study's batch of 128, narrowed to 25 units, four epochs: too little training",
            '''
def choose_recipe():  # 4 x 430 = 1,720 steps
    return {"widths": [25], "batch_size": 128, "epochs": 4, "optimizer": "adam",
            "learning_rate": 0.001, "schedule": "constant"}
''',
        ),
        (
            "the chapter's batch of 64 for as many epochs as the reference: 15,480 steps",
            '''
def choose_recipe():
    return {"widths": [25], "batch_size": 64, "epochs": 18, "optimizer": "adam",
            "learning_rate": 0.01, "schedule": "cosine"}
''',
        ),
        (
            "an optimizer the exercise does not offer",
            '''
def choose_recipe():
    return {"widths": [25], "batch_size": 512, "epochs": 18, "optimizer": "nadam",
            "learning_rate": 0.01, "schedule": "cosine"}
''',
        ),
        (
            "the learning rate as a string",
            '''
def choose_recipe():
    return {"widths": [25], "batch_size": 512, "epochs": 18, "optimizer": "adam",
            "learning_rate": "1e-2", "schedule": "cosine"}
''',
        ),
        (
            "not implemented: the stub",
            '''
def choose_recipe():
    raise NotImplementedError
''',
        ),
    ],
)


QUIZ = Answers(
    solution='''
quiz_answers = {"q1": "D", "q2": "A", "q3": 0.8311, "q4": 3126}
''',
    wrong=[
        (
            "validation images are new since fit never trains on them; more swaps to wrong; stops at the best epoch",
            '''
quiz_answers = {"q1": "A", "q2": "B", "q3": 0.8311, "q4": 2084}
''',
        ),
        (
            "rounds the steps per epoch down (520 instead of 521): within 0.2 % but wrong",
            '''
quiz_answers = {"q1": "D", "q2": "A", "q3": 0.8311, "q4": 3120}
''',
        ),
    ],
)
