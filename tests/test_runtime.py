"""Tests of course_utils.runtime and the Keras-side helpers (one TensorFlow import for the module)."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import runtime


@pytest.fixture(scope="module")
def info():
    return runtime.setup(seed=123, verbose=False)


def test_report_names_the_device_and_versions(info):
    line = info.report()
    assert line.startswith(f"Training on {info.device} (")
    assert info.device in {"CPU", "GPU"} and info.reason
    assert f"TensorFlow {info.tensorflow}" in line and "seed 123" in line
    assert line.count("\n") == 1  # where it trains and why; the versions


def test_setup_prints_the_report_within_the_text_column(capsys):
    info = runtime.setup(seed=1)
    out = capsys.readouterr().out
    assert out.startswith("Training on ") and " ".join(out.split()) == " ".join(info.report().split())
    assert max(len(line) for line in out.splitlines()) <= 88


def test_a_long_reason_is_wrapped_line_by_line(capsys, monkeypatch):
    info = runtime.setup(seed=1, verbose=False)
    long = runtime.RuntimeInfo(**{**info.__dict__, "reason": "an NVIDIA driver is present, " * 4})
    monkeypatch.setattr(runtime, "RuntimeInfo", lambda **kwargs: long)
    runtime.setup(seed=1)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 88 and lines[-1].startswith("TensorFlow ")


def test_seeding_makes_keras_initialization_repeatable(info):
    import keras

    def weights(seed):
        runtime.seed_everything(seed)
        layer = keras.layers.Dense(4)
        layer.build((None, 3))
        return layer.kernel.numpy(), np.random.rand()

    (w1, r1), (w2, r2), (w3, _) = weights(7), weights(7), weights(8)
    np.testing.assert_array_equal(w1, w2)
    assert r1 == r2
    assert not np.array_equal(w1, w3)


def test_mixed_precision_is_switched_on_and_off():
    import keras

    try:
        runtime.setup(seed=None, mixed_precision=True, verbose=False)
        assert keras.mixed_precision.global_policy().name == "mixed_float16"
    finally:
        runtime.setup(seed=None, verbose=False)
    assert keras.mixed_precision.global_policy().name == "float32"


def test_cpu_reason_mentions_cuda_when_a_driver_exists_without_cuda(monkeypatch):
    class FakeTF:
        class test:
            @staticmethod
            def is_built_with_cuda():
                return False

    monkeypatch.setattr(runtime.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    assert "no CUDA support" in runtime.cpu_reason(FakeTF)
    monkeypatch.setattr(runtime.shutil, "which", lambda name: None)
    monkeypatch.setattr(runtime.os.path, "exists", lambda p: False)
    monkeypatch.setattr(runtime.platform, "system", lambda: "Linux")
    assert "no GPU visible" in runtime.cpu_reason(FakeTF)


def test_silenced_stderr_hides_file_descriptor_output(capfd):
    import os

    with runtime.silenced_stderr():
        os.write(2, b"C++ log line\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "C++ log line" not in err and "after" in err


def test_epoch_logger_prints_clean_lines(info, capsys):
    import keras

    from course_utils.training import EpochLogger, summary_text

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, epochs=3, verbose=0, callbacks=[EpochLogger(every=2, show_time=False)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert all(line.startswith("epoch ") and "loss " in line for line in lines)
    text = summary_text(model)
    assert "Trainable params: 4" in text and "\x1b" not in text
