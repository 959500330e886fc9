"""Tests of course_utils.parallel: K branches in one model train as K separate networks."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.parallel import Branch, build_branches, stack_runs, train_branches


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(n, 784)).astype("float32")
    y = rng.integers(0, 10, size=n).astype("int32")
    return x, y


def test_branches_train_exactly_as_separate_networks():
    """Branches without random layers (plain, penalized with max-norm, batch-normalized),
    trained together, match each trained alone (same initial weights, same batch order, Adam):
    the summed loss keeps gradients apart, and batch normalization's moving averages too."""
    tf = pytest.importorskip("tensorflow")
    import keras

    x, y = _data()
    branches = {
        "none": Branch(hidden=(16,)),
        "L2": Branch(l2=1e-2, hidden=(16,), max_norm=2.0),
        "BN": Branch(batchnorm=True, hidden=(16,)),
    }
    keras.utils.set_random_seed(0)
    joint, singles = build_branches(branches, seed=3)
    start = {name: [w.copy() for w in m.get_weights()] for name, m in singles.items()}
    opt = keras.optimizers.Adam(1e-2)

    def xent(labels, logits):
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))

    order = np.random.default_rng(1).permutation(len(y))
    for i in range(0, len(y), 40):
        xb, yb = x[order[i : i + 40]], y[order[i : i + 40]]
        with tf.GradientTape() as tape:
            loss = tf.add_n([xent(yb, z) for z in joint(xb, training=True)])
            loss += tf.add_n(joint.losses)
        opt.apply(tape.gradient(loss, joint.trainable_variables), joint.trainable_variables)

    for name, branch in branches.items():
        _, alone = build_branches({name: branch}, seed=99)
        model = alone[name]
        model.set_weights(start[name])
        opt1 = keras.optimizers.Adam(1e-2)
        for i in range(0, len(y), 40):
            xb, yb = x[order[i : i + 40]], y[order[i : i + 40]]
            with tf.GradientTape() as tape:
                loss = xent(yb, model(xb, training=True))
                if model.losses:
                    loss += tf.add_n(model.losses)
            opt1.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        for got, want in zip(singles[name].get_weights(), model.get_weights()):
            np.testing.assert_allclose(got, want, atol=2e-6)


def test_train_branches_curves_and_early_stopping_bookkeeping():
    pytest.importorskip("tensorflow")
    import keras

    x, y = _data(100)
    xv, yv = _data(50, seed=1)
    runs = train_branches(
        {"a": Branch(hidden=(8,)), "b": Branch(dropout=0.5, hidden=(8,))},
        x,
        y,
        xv,
        yv,
        epochs=4,
        seeds=(0, 1),
        batch_size=25,
        patience=1,
    )
    assert [r.seed for r in runs] == [0, 1]
    for run in runs:
        assert run.names == ["a", "b"]
        for name in run.names:
            c = run.curves[name]
            assert all(len(c[k]) == 4 for k in ("loss", "accuracy", "val_loss", "val_accuracy"))
            best = run.best_epoch[name]
            assert c["val_loss"][best - 1] == min(c["val_loss"][: run.stopped_epoch[name]])
            for restored, epoch in ((True, best), (False, 4)):
                logits = run.model(name, restored=restored)(xv, training=False)
                loss = float(keras.ops.mean(keras.losses.sparse_categorical_crossentropy(yv, logits, from_logits=True)))
                assert loss == pytest.approx(c["val_loss"][epoch - 1], rel=1e-4)
            for key in ("val_loss", "val_accuracy"):  # the halves, 25 images each, average to the whole
                np.testing.assert_allclose(c[key], (np.array(c[key + "_a"]) + c[key + "_b"]) / 2, rtol=1e-6)
    # each seed starts afresh: the first epoch's numbers differ between seeds
    assert runs[0].curves["a"]["val_loss"][0] != runs[1].curves["a"]["val_loss"][0]
    assert stack_runs(runs, "a", "val_loss").shape == (2, 4)


def test_a_seed_gives_the_same_run_whether_alone_or_after_another():
    """Initial weights, dropout masks and augmentations all come from the run's seed."""
    pytest.importorskip("tensorflow")
    x, y = _data(100)
    xv, yv = _data(50, seed=1)
    branches = {
        "a": Branch(hidden=(8,)),
        "b": Branch(l2=1e-3, hidden=(8,)),
        "drop": Branch(dropout=0.5, hidden=(8,)),
        "aug": Branch(augment=True, hidden=(8,)),
    }
    both = train_branches(branches, x, y, xv, yv, epochs=2, seeds=(0, 1), batch_size=25)
    alone = train_branches(branches, x, y, xv, yv, epochs=2, seeds=(1,), batch_size=25)
    for name in branches:
        np.testing.assert_allclose(both[1].curves[name]["val_loss"], alone[0].curves[name]["val_loss"], rtol=1e-5)
    # other branches in the model do not change a branch's draws either
    only = train_branches({"drop": branches["drop"]}, x, y, xv, yv, epochs=2, seeds=(1,), batch_size=25)
    np.testing.assert_allclose(only[0].curves["drop"]["val_loss"], alone[0].curves["drop"]["val_loss"], rtol=1e-5)
    # and the seed does matter for the masks: seeds 0 and 1 differ
    assert both[0].curves["drop"]["val_loss"] != both[1].curves["drop"]["val_loss"]


def test_branches_of_one_seed_with_one_architecture_start_from_the_same_weights():
    pytest.importorskip("tensorflow")
    from course_utils.parallel import _initialize

    model, singles = build_branches({"a": Branch(hidden=(8,)), "b": Branch(l2=1e-3, hidden=(8,))})
    _initialize(model, 5)
    for wa, wb in zip(singles["a"].get_weights(), singles["b"].get_weights()):
        np.testing.assert_array_equal(wa, wb)
    first = [w.copy() for w in singles["a"].get_weights()]
    _initialize(model, 6)
    assert not np.array_equal(first[0], singles["a"].get_weights()[0])


def test_train_branches_refuses_nothing_to_train():
    x, y = _data(10)
    with pytest.raises(ValueError):
        train_branches({}, x, y, x, y, epochs=1)


def test_smoothed_xent_is_keras_label_smoothing():
    pytest.importorskip("tensorflow")
    import keras

    from course_utils.parallel import _label_smoothing_loss

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 10)).astype("float32") * 3
    labels = rng.integers(0, 10, size=7)
    for eps in (0.0, 0.1, 0.3):
        want = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=eps)(
            keras.ops.one_hot(labels, 10), logits
        )
        assert float(_label_smoothing_loss(labels, logits, eps)) == pytest.approx(float(want), rel=1e-5)


def test_label_smoothing_acts_on_its_own_branch_only():
    """A smoothed branch trains as it would alone, and differently from its unsmoothed twin
    (same initial weights and batches); the unsmoothed branch is unaffected by its neighbour."""
    pytest.importorskip("tensorflow")

    x, y = _data(100)
    xv, yv = _data(40, seed=1)
    kw = dict(epochs=2, seeds=(0,), batch_size=25)
    both = train_branches(
        {"plain": Branch(hidden=(8,)), "smooth": Branch(hidden=(8,), label_smoothing=0.2)}, x, y, xv, yv, **kw
    )[0]
    alone = {
        name: train_branches({name: branch}, x, y, xv, yv, **kw)[0]
        for name, branch in (("plain", Branch(hidden=(8,))), ("smooth", Branch(hidden=(8,), label_smoothing=0.2)))
    }
    for name in ("plain", "smooth"):
        for got, want in zip(both.final_weights[name], alone[name].final_weights[name]):
            np.testing.assert_allclose(got, want, atol=2e-6)
    assert not np.allclose(both.final_weights["plain"][0], both.final_weights["smooth"][0], atol=1e-4)
