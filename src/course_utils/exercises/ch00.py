"""Visible checks for chapter 0, "Getting started" (public, simple cases only)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..checking import numpy_only
from . import Question, Verdict, as_array, call, fail, validate_answers, visible_check
from ._expected_ch00 import EXPECTED

QUIZ = (Question("q1", ("A", "B", "C", "D")), Question("q2", ("A", "B", "C", "D")), Question("q3"), Question("q4"))


@visible_check("ch00.top-k-accuracy")
def check_top_k_accuracy(top_k_accuracy: Any) -> Verdict:
    """Four examples, three classes, k = 1, 2 and 3; NumPy only (a Keras metric proves nothing)."""
    top_k_accuracy = numpy_only(top_k_accuracy, "top_k_accuracy")
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], dtype="float32")
    labels = np.array([1, 1, 0, 2])
    expected = {1: 0.25, 2: 0.5, 3: 1.0}  # label ranks: 2nd, 1st, 3rd, 3rd
    got = {
        k: as_array(
            call(top_k_accuracy, probs.copy(), labels.copy(), k, what="top_k_accuracy"),
            f"top_k_accuracy(probs, labels, {k})",
        )
        for k in expected
    }
    for k, value in got.items():
        if value.shape != ():
            fail(f"top_k_accuracy(..., k={k}) returned an array of shape {value.shape}; return one number.")
    values = {k: float(v) for k, v in got.items()}
    if values[1] == 0.5:
        fail(
            "With k=1 the result should be the plain accuracy (0.25 here). Did you take the k *smallest* "
            "probabilities? np.argsort sorts in increasing order."
        )
    if values[1] == 0.0 and values[2] == 0.25:
        fail(
            "The result is the top-(k-1) accuracy: when you count the classes ranked above the label, "
            "do not count the label's own class."
        )
    if values[1] == 1.0 and values[2] == 2.0:
        fail("top_k_accuracy returned the number of hits; divide by the number of examples.")
    if values[3] != 1.0:
        fail(f"With k=3 and three classes every label is in the top k, so the result is 1.0; got {values[3]:g}.")
    for k, value in values.items():
        if not np.isclose(value, expected[k]):
            fail(f"top_k_accuracy(probs, labels, k={k}) is {value:g}; on this example it should be {expected[k]:g}.")
    return Verdict(True, "Correct on the public example (k = 1, 2, 3).")


EARLY_STOPPING_CURVES = (
    ([0.9, 0.6, 0.5, 0.52, 0.49, 0.5, 0.51, 0.53, 0.55], 2, 0.0),
    ([0.9, 0.6, 0.5, 0.496, 0.492, 0.485, 0.6], 2, 0.01),  # no value at exactly best - d
    ([0.9, 0.5, 0.7, 0.6, 0.55, 0.52, 0.51], 2, 0.0),
    ([0.5, 0.4, 0.4, 0.45, 0.46, 0.47], 2, 0.0),  # a tie with the best value
    ([1.0, 0.5, 0.496, 0.492, 0.488, 0.487, 0.486, 0.485], 3, 0.01),  # a slow descent
)
# What each curve is there to catch, said when a function gets it wrong (by the curve's index).
EARLY_STOPPING_HINTS = {
    3: " A value equal to the reference (with min_delta=0) is no improvement.",
    4: (
        " The reference is the value of the last epoch that counted as an improvement: it does not"
        " follow the lowest value seen on epochs that did not improve."
    ),
}


@visible_check("ch00.early-stopping")
def check_early_stopping(early_stopping: Any) -> Verdict:
    """Five public curves, compared with what keras.callbacks.EarlyStopping did on them (stored values).

    The rule is replayed by hand: the callback itself (or any Keras code) is refused.
    """
    early_stopping = numpy_only(early_stopping, "early_stopping")
    for i, ((values, patience, min_delta), expected) in enumerate(
        zip(EARLY_STOPPING_CURVES, EXPECTED["early-stopping"], strict=True)
    ):
        got = call(early_stopping, list(values), patience, min_delta, what="early_stopping")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            fail("early_stopping should return a tuple (stop_epoch, best_epoch).")
        stop, best = got
        if (
            isinstance(stop, (bool, np.bool_))
            or not isinstance(stop, (int, np.integer))
            or not isinstance(best, (int, np.integer))
        ):
            fail(f"Both epochs should be integers, got {stop!r} and {best!r}.")
        expected = tuple(expected)
        where = f"with val_loss={values}, patience={patience}, min_delta={min_delta}"
        if (stop + 1, best + 1) == expected:
            fail("The epochs are 0-based: count them from 1, as Keras prints them.")
        if (stop, best) != expected:
            fail(
                f"{where}: you return ({stop}, {best}); keras.callbacks.EarlyStopping stops after epoch "
                f"{expected[0]} and restores epoch {expected[1]}.{EARLY_STOPPING_HINTS.get(i, '')}"
            )
    return Verdict(True, "Matches keras.callbacks.EarlyStopping on the public curves.")


@visible_check("ch00.split-and-scale")
def check_split_and_scale(split_and_scale: Any) -> Verdict:
    """Ten 2 x 2 images that carry their own index, sorted labels, three held out."""
    images = np.zeros((10, 2, 2), dtype="uint8")
    images[:, 0, 0] = np.arange(10) * 20  # image i has pixel (0, 0) = 20 i
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2], dtype="uint8")
    before = images.copy(), labels.copy()
    global_state = np.random.get_state()[1].copy()
    result = call(split_and_scale, images, labels, 3, 0, what="split_and_scale")
    if not np.array_equal(global_state, np.random.get_state()[1]):
        fail(
            "Your function draws from NumPy's global random state (np.random.seed, np.random.permutation). "
            "Use rng = np.random.default_rng(seed): it changes no one else's random numbers."
        )
    try:
        (x_train, y_train), (x_val, y_val) = result
    except (TypeError, ValueError):
        fail("split_and_scale should return ((x_train, y_train), (x_val, y_val)).")
    if not np.array_equal(labels, before[1]) or not np.array_equal(images, before[0]):
        fail(
            "Your function changed the caller's arrays: rng.shuffle shuffles in place. "
            "Index with a permutation instead (a[order] makes a copy)."
        )
    x_train, x_val = as_array(x_train, "x_train"), as_array(x_val, "x_val")
    y_train, y_val = as_array(y_train, "y_train"), as_array(y_val, "y_val")
    if x_train.shape[1:] != (2, 2) or x_val.shape[1:] != (2, 2):
        fail(f"The images came in as 2 x 2 arrays and left with shape {x_train.shape[1:]}: keep their shape.")
    if (len(x_train), len(y_train), len(x_val), len(y_val)) != (7, 7, 3, 3):
        fail("With 10 examples and n_val=3, expect 7 training and 3 validation examples.")
    if x_train.dtype != np.float32:
        fail(f"The images are {x_train.dtype}; Keras trains in float32 (uint8 / 255 gives float64).")
    ids = np.rint(np.concatenate([x_train, x_val])[:, 0, 0] * 255 / 20).astype(int)
    if sorted(ids.tolist()) != list(range(10)):
        fail("The pixels are not the original ones divided by 255, or some images are repeated or lost.")
    if not np.array_equal(labels[ids], np.concatenate([y_train, y_val])):
        fail("Images and labels are no longer paired: shuffle both with one permutation.")
    if ids[:7].tolist() == list(range(7)):
        fail("The data is not shuffled: with sorted labels the validation set holds only the last class.")
    if np.mean(np.isin(np.diff(ids) % 10, (1, 9))) > 0.8:  # a random order of ten has about two such pairs
        fail(
            "Most examples still follow their neighbour in the original order (a rotation or a shift is not "
            "a shuffle): on sorted data the validation set would hold one or two classes."
        )
    if sorted(ids[7:].tolist()) == [7, 8, 9]:  # a shuffle puts exactly these three there once in 120 seeds
        other = call(split_and_scale, before[0].copy(), before[1].copy(), 3, 1, what="split_and_scale")
        try:
            other_val = as_array(other[1][0], "x_val")
        except (TypeError, IndexError):
            other_val = None
        if other_val is not None and other_val.shape[1:] == (2, 2):
            other_ids = sorted(np.rint(other_val[:, 0, 0] * 255 / 20).astype(int).tolist())
            if other_ids == [7, 8, 9]:
                fail(
                    "The validation set is the last n_val examples with seed 0 and with seed 1: only the "
                    "training part is shuffled. Shuffle the whole data set, then split it."
                )
    return Verdict(True, "Pairs kept, pixels scaled to float32, data shuffled, inputs untouched.")


MAX_PARAMS = 20_000  # the exercise's budget of weights: the chapter's model has five times as many
MAX_STEPS = 2_000  # the budget of gradient steps, counted from the recipe: epochs x ceil(N / batch)
N_TRAIN = 55_000  # the training images a recipe is trained on (MNIST's 60,000 less 5,000 validation)
TEST_TARGET = 0.955  # what the grade asks on the 10,000 test images (trained by the grader)
# What this check asks on the validation images (trained with seed 0): the chapter's recipe narrowed to
# 25 units reaches 94.5-95.7 % there (seeds 0-2), the reference recipe 96.6-97.1 % (test: 96.1-96.5 %).
TARGET = 0.963
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")  # "momentum": SGD with momentum 0.9
SCHEDULES = ("constant", "cosine")  # "cosine": from learning_rate down to 0 over the run's steps
RECIPE_FIELDS = ("widths", "batch_size", "epochs", "optimizer", "learning_rate", "schedule")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def recipe_problem(recipe: Any) -> str | None:
    """What is wrong with a recipe's form (a sentence), or None; budgets are checked by budget_problem."""
    keys = ", ".join(RECIPE_FIELDS)
    if not isinstance(recipe, dict):
        return f"choose_recipe should return a dict with the keys {keys}; got {type(recipe).__name__}."
    missing = [k for k in RECIPE_FIELDS if k not in recipe]
    extra = sorted(str(k) for k in recipe if k not in RECIPE_FIELDS)
    if missing:
        return f"The recipe lacks {', '.join(missing)}: give all of {keys}."
    if extra:
        return f"The recipe has keys this exercise does not know: {', '.join(extra)}. Use {keys}."
    widths = recipe["widths"]
    if not isinstance(widths, (list, tuple)) or not 1 <= len(widths) <= 3 or not all(_is_int(w) for w in widths):
        return "widths should be a list of one to three integers, the units of each hidden Dense layer, e.g. [32]."
    if not all(1 <= w <= 1024 for w in widths):
        return "Every hidden layer needs between 1 and 1,024 units."
    for key, high in (("batch_size", N_TRAIN), ("epochs", MAX_STEPS)):
        if not _is_int(recipe[key]) or not 1 <= recipe[key] <= high:
            return f"{key} should be an integer from 1 to {high:,}; got {recipe[key]!r}."
    if recipe["optimizer"] not in OPTIMIZERS:
        return f"optimizer should be one of {', '.join(map(repr, OPTIMIZERS))}; got {recipe['optimizer']!r}."
    rate = recipe["learning_rate"]
    if not isinstance(rate, (int, float, np.floating, np.integer)) or isinstance(rate, (bool, np.bool_)):
        return f"learning_rate should be a number; got {type(rate).__name__}."
    if not 0 < float(rate) <= 1:
        return f"learning_rate should lie in (0, 1]; got {rate!r}."
    if recipe["schedule"] not in SCHEDULES:
        return f"schedule should be one of {', '.join(map(repr, SCHEDULES))}; got {recipe['schedule']!r}."
    return None


def recipe_params(widths: Any) -> int:
    """Parameters of Flatten, Dense(w, relu) for each width, then Dense(10): weights plus biases."""
    sizes = [28 * 28, *[int(w) for w in widths], 10]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def recipe_steps(batch_size: int, epochs: int, n: int = N_TRAIN) -> int:
    """Gradient steps of a run: every epoch makes ceil(n / batch_size) steps, the last batch smaller."""
    return int(epochs) * math.ceil(n / int(batch_size))


def budget_problem(recipe: dict[str, Any]) -> str | None:
    """Why a well-formed recipe is over the budget of parameters or of steps (a sentence), or None."""
    n_params = recipe_params(recipe["widths"])
    if n_params > MAX_PARAMS:
        return (
            f"The model has {n_params:,} parameters, {n_params - MAX_PARAMS:,} over the {MAX_PARAMS:,} "
            "allowed: make the first hidden layer narrower."
        )
    per_epoch = math.ceil(N_TRAIN / recipe["batch_size"])
    steps = recipe_steps(recipe["batch_size"], recipe["epochs"])
    if steps > MAX_STEPS:
        return (
            f"The recipe takes {steps:,} gradient steps ({recipe['epochs']} epochs of ceil({N_TRAIN:,} / "
            f"{recipe['batch_size']}) = {per_epoch} steps), {steps - MAX_STEPS:,} over the {MAX_STEPS:,} allowed."
        )
    return None


def train_recipe(recipe: dict[str, Any], x_train: Any, y_train: Any, seed: int = 0) -> Any:
    """The recipe's model, trained with fixed seeds on the images given (a checked recipe only)."""
    import keras

    keras.utils.set_random_seed(seed)
    layers: list[Any] = [keras.Input(shape=(28, 28)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(int(w), activation="relu") for w in recipe["widths"]]
    model = keras.Sequential([*layers, keras.layers.Dense(10, activation="softmax")])
    steps = recipe_steps(recipe["batch_size"], recipe["epochs"], len(x_train))
    rate: Any = float(recipe["learning_rate"])
    if recipe["schedule"] == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, steps)
    optimizer = {
        "sgd": lambda: keras.optimizers.SGD(rate),
        "momentum": lambda: keras.optimizers.SGD(rate, momentum=0.9),
        "adam": lambda: keras.optimizers.Adam(rate),
        "rmsprop": lambda: keras.optimizers.RMSprop(rate),
    }[recipe["optimizer"]]()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x_train, y_train, batch_size=int(recipe["batch_size"]), epochs=int(recipe["epochs"]), verbose=0)
    return model


def recipe_accuracy(recipe: dict[str, Any], seed: int = 0) -> float:
    """Train the recipe on the 55,000 training images and measure it on the 5,000 validation images.

    Validation only, on purpose: the recipe is a choice, and choices are made on validation data.
    The grade trains it again, with a seed of the grader's, and reads the test images once.
    """
    from ..data import load_mnist

    data = load_mnist(validation=5000)
    model = train_recipe(recipe, data.x_train, data.y_train, seed)
    probs = np.asarray(model.predict(data.x_val, verbose=0))
    return float(np.mean(probs.argmax(axis=1) == data.y_val))


@visible_check("ch00.train-within-budget")
def check_train_within_budget(choose_recipe: Any) -> Verdict:
    """Checks the recipe's form and budget, trains it on the training images, measures validation accuracy."""
    recipe = call(choose_recipe, what="choose_recipe")
    problem = recipe_problem(recipe) or budget_problem(recipe)
    if problem:
        fail(problem)
    n_params = recipe_params(recipe["widths"])
    steps = recipe_steps(recipe["batch_size"], recipe["epochs"])
    accuracy = recipe_accuracy(recipe)
    summary = f"{n_params:,} parameters, {steps:,} steps, validation accuracy {accuracy:.1%}"
    if accuracy < TARGET:
        fail(
            f"{summary}: below the {TARGET:.1%} this check asks on the validation images (the grade asks "
            f"{TEST_TARGET:.1%} on test images, which are harder). Compare a few learning rates and batch "
            "sizes on the validation images."
        )
    return Verdict(
        True,
        f"{summary}. The grade trains it again, with a seed of its own, and asks {TEST_TARGET:.1%} on the test images.",
    )


@visible_check("ch00.quiz")
def check_quiz(answers: Any) -> Verdict:
    """Only the form of the answers; they are graded on submission."""
    return validate_answers(answers, QUIZ)
