"""Tests of course_utils.data: the real data when available, and every error path on small synthetic files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from course_utils import data
from course_utils.data import DataError, load_mnist

from conftest import SHARED_DATA


def real_data_dir() -> str | None:
    """The folder with the real mnist.npz: COURSE_DATA_DIR, or ../shared/data next to the checkout."""
    value = os.environ.get(data.ENV_VAR)
    if value:
        return value
    return str(SHARED_DATA) if (SHARED_DATA / "mnist.npz").is_file() else None


needs_real = pytest.mark.skipif(
    real_data_dir() is None, reason="no local MNIST copy (set COURSE_DATA_DIR to run these tests)"
)


@pytest.fixture
def real(monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, real_data_dir())


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def small_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 20, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 5, dtype=np.uint8),
    }


# ---- real data -----------------------------------------------------------------------------


@needs_real
def test_full_load_is_verified_and_scaled(real):
    d = load_mnist()
    assert d.x_train.shape == (60000, 28, 28) and d.x_test.shape == (10000, 28, 28)
    assert d.x_val is None and d.y_val is None
    assert d.x_train.dtype == np.float32 and 0.0 == d.x_train.min() and d.x_train.max() == 1.0
    assert abs(float(d.x_train.mean()) - 0.13066) < 1e-4
    assert np.bincount(d.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert d.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


@needs_real
def test_validation_split_takes_the_last_examples(real):
    full = load_mnist(scale=False)
    d = load_mnist(scale=False, validation=5000)
    assert len(d.y_train) == 55000 and len(d.y_val) == 5000
    np.testing.assert_array_equal(d.x_val, full.x_train[-5000:])
    frac = load_mnist(validation=0.1, train_size=1000)
    assert len(frac.y_train) == 900 and len(frac.y_val) == 100


@needs_real
def test_subset_is_deterministic_and_seed_dependent(real):
    a = load_mnist(train_size=500, test_size=100, seed=1, flatten=True)
    b = load_mnist(train_size=500, test_size=100, seed=1, flatten=True)
    c = load_mnist(train_size=500, test_size=100, seed=2, flatten=True)
    assert a.x_train.shape == (500, 784) and a.x_test.shape == (100, 784)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.y_train, c.y_train)


@needs_real
def test_raw_pixels_when_not_scaled(real):
    d = load_mnist(scale=False, train_size=10)
    assert d.x_train.dtype == np.uint8 and d.x_train.max() > 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(train_size=0), "train_size must be between 1 and 60000"),
        (dict(train_size=70000), "train_size must be between 1 and 60000"),
        (dict(test_size=-1), "test_size must be between 1 and 10000"),
        (dict(validation=1.5), "fractional validation split must be in"),
        (dict(validation=60000), "must leave some training data"),
        (dict(train_size=100, validation=100), "must leave some training data: got 100 of 100"),
    ],
)
def test_bad_arguments_are_rejected_before_anything_is_read(monkeypatch, kwargs, message):
    def no_reading():
        raise AssertionError("the data was read before the arguments were checked")

    monkeypatch.setattr(data, "load_raw_mnist", no_reading)
    with pytest.raises(ValueError, match=message):
        load_mnist(**kwargs)


@needs_real
def test_verified_arrays_are_cached_per_file_and_read_only(real, monkeypatch):
    load_mnist(test_size=10)
    calls = []
    monkeypatch.setattr(data, "verify_arrays", lambda arrays, source: calls.append(source))
    first = load_mnist(train_size=50, validation=10, seed=3)
    load_mnist(train_size=50)
    assert calls == [], "the same file was hashed again"
    first.y_train[:] = 0  # what a caller gets is its own copy...
    assert load_mnist(train_size=50, validation=10, seed=3).y_train.any()  # ...the cache is untouched
    raw = data.load_raw_mnist()
    assert not raw["x_train"].flags.writeable


def test_local_source_accepts_a_folder_or_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    assert data.local_source() == tmp_path / "mnist.npz"
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "copy.npz"))
    assert data.local_source() == tmp_path / "copy.npz"
    monkeypatch.delenv(data.ENV_VAR)
    assert data.local_source() is None


# ---- error paths on synthetic files -----------------------------------------------------------


def test_missing_file_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(DataError, match=r"No MNIST file at .*mnist\.npz"):
        load_mnist()


def test_truncated_file_is_reported(monkeypatch, tmp_path):
    path = write_npz(tmp_path / "mnist.npz", **small_arrays())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(DataError, match="truncated or corrupted"):
        load_mnist()


def test_not_an_archive_is_reported(monkeypatch, tmp_path):
    (tmp_path / "mnist.npz").write_text("this is not a zip file")
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(DataError, match="could not be read"):
        load_mnist()


def test_wrong_shapes_are_reported(monkeypatch, tmp_path):
    write_npz(tmp_path / "mnist.npz", **small_arrays())
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(DataError, match=r"'x_train' has shape \(20, 28, 28\).*expected \(60000, 28, 28\)"):
        load_mnist()


def test_missing_array_is_reported(monkeypatch, tmp_path):
    arrays = small_arrays()
    del arrays["y_test"]
    write_npz(tmp_path / "mnist.npz", **arrays)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(DataError, match="'y_test' is missing"):
        load_mnist()


def test_altered_contents_fail_the_checksum(monkeypatch, tmp_path):
    # Right shapes and dtypes, wrong pixels: only the SHA-256 can tell.
    arrays = {name: np.zeros(shape, dtype=dtype) for name, (shape, dtype, _) in data.EXPECTED.items()}
    write_npz(tmp_path / "mnist.npz", **arrays)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        load_mnist()


@needs_real
def test_one_changed_pixel_fails_the_checksum(tmp_path):
    raw = data.read_npz(Path(data.local_source() if os.environ.get(data.ENV_VAR) else SHARED_DATA / "mnist.npz"))
    raw["x_test"] = raw["x_test"].copy()
    raw["x_test"][0, 14, 14] ^= 1
    with pytest.raises(DataError, match="'x_test'.*SHA-256 mismatch"):
        data.verify_arrays(raw, "test copy")


@pytest.mark.slow  # imports TensorFlow in a second interpreter (4 s)
def test_no_network_and_no_local_copy_fails_clearly(tmp_path):
    """A real Keras download attempt with sockets blocked, in a separate interpreter."""
    script = textwrap.dedent("""
        import socket
        def refuse(*args, **kwargs):
            raise OSError("network disabled by the test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from course_utils.data import load_mnist, DataError
        try:
            load_mnist()
        except DataError as err:
            print("DATAERROR:", err)
        else:
            print("LOADED")
    """)
    env = {k: v for k, v in os.environ.items() if k != data.ENV_VAR}
    env.update(KERAS_HOME=str(tmp_path / "keras-home"), TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert "DATAERROR:" in out.stdout, out.stdout + out.stderr
    assert "could not download MNIST" in out.stdout and data.ENV_VAR in out.stdout
    assert not (tmp_path / "keras-home" / "datasets" / "mnist.npz").exists()


def test_a_notebook_shows_the_data_error_without_a_traceback(capsys):
    """In IPython (a notebook's kernel) the message is all that shows, not the frames (issue 24)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    code = (
        "from course_utils.data import DataError\n"
        "def deep():\n    raise OSError('deep cause')\n"
        "try:\n    deep()\nexcept OSError as err:\n    raise DataError('Set COURSE_DATA_DIR.') from err\n"
    )
    result = shell.run_cell(code)
    shown = capsys.readouterr().out
    assert isinstance(result.error_in_exec, data.DataError)
    assert "DataError: Set COURSE_DATA_DIR." in shown
    assert "deep cause" not in shown and "Traceback" not in shown, shown
