"""Reference solutions and plausible wrong answers for chapter 0's exercises (instructors only).

SOLUTIONS maps each exercise id to the source a student could paste into the exercise cell;
WRONG maps each id to (name, source) pairs that the hidden checks must reject.
"""

from __future__ import annotations

SOLUTIONS: dict[str, str] = {
    "ch00.build-classifier": '''
def build_classifier(hidden_units):
    return keras.Sequential([
        keras.Input(shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(hidden_units, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
''',
    "ch00.accuracy": '''
def accuracy(probs, labels):
    predicted = np.argmax(np.asarray(probs), axis=1)
    return float(np.mean(predicted == np.asarray(labels)))
''',
    "ch00.misclassified": '''
def misclassified(probs, labels):
    return np.flatnonzero(np.argmax(probs, axis=1) != np.asarray(labels))
''',
    "ch00.best-epoch": '''
def best_epoch(history):
    logs = history.history if hasattr(history, "history") else history
    return int(np.argmin(logs["val_loss"])) + 1
''',
    "ch00.quiz": '''
quiz_answers = {"q1": "B", "q2": 101770, "q3": "C"}
''',
}

WRONG: dict[str, list[tuple[str, str]]] = {
    "ch00.build-classifier": [
        ("ignores hidden_units", '''
def build_classifier(hidden_units):
    return keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])
'''),
        ("no softmax on the output", '''
def build_classifier(hidden_units):
    return keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(hidden_units, activation="relu"), keras.layers.Dense(10)])
'''),
        ("sigmoid hidden layer", '''
def build_classifier(hidden_units):
    return keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(hidden_units, activation="sigmoid"),
                             keras.layers.Dense(10, activation="softmax")])
'''),
        ("compiled", '''
def build_classifier(hidden_units):
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(hidden_units, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
'''),
    ],
    "ch00.accuracy": [
        ("count instead of fraction", '''
def accuracy(probs, labels):
    return float(np.sum(np.argmax(probs, axis=1) == labels))
'''),
        ("error rate", '''
def accuracy(probs, labels):
    return float(np.mean(np.argmax(probs, axis=1) != labels))
'''),
        ("argmax over the wrong axis", '''
def accuracy(probs, labels):
    return float(np.mean(np.argmax(probs, axis=0) == labels))
'''),
    ],
    "ch00.misclassified": [
        ("indices of the correct predictions", '''
def misclassified(probs, labels):
    return np.flatnonzero(np.argmax(probs, axis=1) == labels)
'''),
        ("boolean mask", '''
def misclassified(probs, labels):
    return np.argmax(probs, axis=1) != labels
'''),
        ("1-based indices", '''
def misclassified(probs, labels):
    return np.flatnonzero(np.argmax(probs, axis=1) != labels) + 1
'''),
    ],
    "ch00.best-epoch": [
        ("0-based", '''
def best_epoch(history):
    logs = history.history if hasattr(history, "history") else history
    return int(np.argmin(logs["val_loss"]))
'''),
        ("training loss", '''
def best_epoch(history):
    logs = history.history if hasattr(history, "history") else history
    return int(np.argmin(logs["loss"])) + 1
'''),
        ("dicts only", '''
def best_epoch(history):
    return int(np.argmin(history["val_loss"])) + 1
'''),
        ("returns the loss", '''
def best_epoch(history):
    logs = history.history if hasattr(history, "history") else history
    return min(logs["val_loss"])
'''),
    ],
    "ch00.quiz": [
        ("validation data trains the model; parameters without biases", '''
quiz_answers = {"q1": "A", "q2": 101632, "q3": "B"}
'''),
    ],
}
