"""Training recipes and the time-to-accuracy race, on tiny data (course_utils.recipes)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from course_utils import recipes

keras = pytest.importorskip("keras")


def tiny_digits(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten easy classes: class k lights up row k of a 28 x 28 image, plus a little noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.normal(0, 0.05, (n, 28, 28, 1)).astype("float32")
    x[np.arange(n), 2 * y + 3, :, 0] += 1.0
    return x, y


def test_auto_precision_uses_bfloat16_only_where_the_hardware_has_it():
    assert recipes.resolve_precision("auto", gpu=False, flags={"avx2", "avx512_bf16"}) == "mixed_bfloat16"
    assert recipes.resolve_precision("auto", gpu=False, flags={"avx2", "amx_bf16"}) == "mixed_bfloat16"
    assert recipes.resolve_precision("auto", gpu=False, flags={"avx2"}) == "float32"
    assert recipes.resolve_precision("auto", gpu=True, flags=set()) == "mixed_bfloat16"
    assert recipes.resolve_precision("float32", gpu=True) == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "convnet"])
def test_models_output_float32_logits_and_leave_the_global_policy_alone(model):
    before = keras.mixed_precision.global_policy().name
    net = recipes.build_model(recipes.Recipe("t", model=model, precision="mixed_bfloat16"))
    assert keras.mixed_precision.global_policy().name == before
    assert net.output_shape == (None, 10)
    assert net.layers[0].compute_dtype == "bfloat16" and net.layers[-1].compute_dtype == "float32"


def test_cosine_schedule_warms_up_then_decays_to_zero():
    recipe = recipes.Recipe("t", schedule="cosine", warmup_fraction=0.1, epochs=10, learning_rate=0.01)
    schedule = recipes.learning_rate(recipe, steps_per_epoch=10)  # 100 steps, 10 of warm-up
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == 0.0 and rates[1] == pytest.approx(0.005) and rates[2] == pytest.approx(0.01)
    assert 0.0 < rates[3] < 0.01 and rates[4] == pytest.approx(0.0, abs=1e-9)
    assert recipes.learning_rate(recipes.Recipe("t"), 10) == 1e-3


@pytest.mark.slow
@pytest.mark.parametrize(
    "bad", [{"model": "resnet"}, {"optimizer": "lion"}, {"schedule": "step"}], ids=["model", "optimizer", "schedule"]
)
def test_unknown_settings_are_refused_with_the_choices(bad):
    x, y = tiny_digits(32)
    with pytest.raises(ValueError, match="use '"):
        recipes.race(recipes.Recipe("t", **bad), x, y, x, y, target=0.5)


@pytest.mark.slow
def test_race_stops_at_the_target_and_counts_only_training_time():
    x, y = tiny_digits()
    recipe = replace(recipes.COURSE_MLP, batch_size=32, epochs=20, precision="float32")
    result = recipes.race(recipe, x, y, x, y, target=0.9)
    assert result.seconds is not None and result.accuracy >= 0.9
    seconds = [s for s, _ in result.curve]
    assert seconds == sorted(seconds) and result.seconds == seconds[-1]
    assert len(result.curve) < 20 * 4  # stopped early, not after every check of 20 epochs


@pytest.mark.slow
def test_race_checks_evenly_within_epochs_with_steps_per_execution():
    x, y = tiny_digits(480)  # 15 steps of 32 per epoch, run 4 at a time: chunks end at 4, 8, 12, 15
    recipe = recipes.Recipe("t", batch_size=32, epochs=3, steps_per_execution=4, precision="float32")
    result = recipes.race(recipe, x, y, x, y, target=1.01, checks_per_epoch=2)  # a check every 7 steps
    assert result.seconds is None
    # two checks per epoch: after 8 steps and at the end (15), never one skipped or doubled
    assert len(result.curve) == 3 * 2, result.curve


@pytest.mark.slow
def test_race_that_cannot_reach_its_target_runs_every_epoch_and_says_so():
    x, y = tiny_digits(64)
    recipe = recipes.Recipe("t", batch_size=32, epochs=2, label_smoothing=0.1, optimizer="adamw", weight_decay=1e-4)
    result = recipes.race(recipe, x, y, x, y, target=1.01, checks_per_epoch=2)
    assert result.seconds is None and len(result.curve) == 2 * 2
    assert 0.0 <= result.accuracy <= 1.0


@pytest.mark.slow
def test_capstone_model_normalizes_augments_in_training_only_and_drops_out():
    recipe = recipes.Recipe("t", model="capstone", dropout=0.2, shift=0.1, rotation=0.05, precision="float32")
    net = recipes.build_model(recipe)
    kinds = [type(layer).__name__ for layer in net.layers]
    assert kinds[:2] == ["RandomTranslation", "RandomRotation"] and kinds.count("BatchNormalization") == 3
    assert kinds[-2:] == ["Dropout", "Dense"] and net.output_shape == (None, 10)
    x, _ = tiny_digits(8)
    assert np.allclose(net(x, training=False), net(x, training=False))  # no randomness in inference
    plain = recipes.build_model(replace(recipe, batchnorm=False, dropout=0.0, shift=0.0, rotation=0.0))
    assert not {"BatchNormalization", "Dropout", "RandomTranslation"} & {type(la).__name__ for la in plain.layers}


@pytest.mark.slow
def test_convnet_keeps_the_keras_io_dropout_unless_the_recipe_sets_one():
    default = recipes.build_model(recipes.Recipe("t", model="convnet", precision="float32"))
    assert [la.rate for la in default.layers if type(la).__name__ == "Dropout"] == [0.5]
    none = recipes.build_model(recipes.Recipe("t", model="convnet", dropout=0.0, precision="float32"))
    assert not [la for la in none.layers if type(la).__name__ == "Dropout"]


@pytest.mark.slow
def test_race_without_a_target_trains_every_epoch_and_keeps_the_model():
    x, y = tiny_digits(128)
    recipe = recipes.Recipe("t", batch_size=32, epochs=3, precision="float32")
    result = recipes.race(recipe, x, y, x, y, target=None, checks_per_epoch=1)
    assert result.seconds is None and len(result.curve) == 3
    assert result.accuracy == pytest.approx(recipes.accuracy(result.model, x, y))


@pytest.mark.slow
def test_race_stops_at_the_first_check_past_its_time_limit():
    x, y = tiny_digits(128)
    recipe = recipes.Recipe("t", batch_size=32, epochs=50, precision="float32")
    result = recipes.race(recipe, x, y, x, y, target=None, checks_per_epoch=1, max_seconds=0.0)
    assert len(result.curve) == 1


def test_changes_lists_only_the_settings_that_differ():
    seed = recipes.Recipe("a", batch_size=32)
    assert recipes.changes(seed, replace(seed, name="b", batch_size=256)) == {"batch_size": (32, 256)}
    assert recipes.changes(seed, seed) == {}


def test_seconds_to_is_the_first_check_at_or_above_the_target():
    curve = [(1.0, 0.9), (2.0, 0.99), (3.0, 0.98), (4.0, 0.995)]
    assert recipes.seconds_to(curve, 0.99) == 2.0
    assert recipes.seconds_to(curve, 0.995) == 4.0
    assert recipes.seconds_to(curve, 0.999) is None
