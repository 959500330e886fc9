"""Loading and verifying MNIST (introduced in chapter 0, "Getting started").

By default the data comes from Keras' own download, cached in ``~/.keras/datasets``
after the first call. Set the environment variable ``COURSE_DATA_DIR`` to a folder
holding ``mnist.npz`` (Keras' layout) to load a local copy instead; the network is
then never touched. Either way every array is checked against its known shape,
dtype and SHA-256, so a truncated or altered file can never train a model silently.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

ENV_VAR = "COURSE_DATA_DIR"
FILE_NAME = "mnist.npz"

# name -> (shape, dtype, SHA-256 of the array's raw bytes)
EXPECTED: dict[str, tuple[tuple[int, ...], str, str]] = {
    "x_train": ((60000, 28, 28), "uint8", "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"),
    "y_train": ((60000,), "uint8", "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13"),
    "x_test": ((10000, 28, 28), "uint8", "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"),
    "y_test": ((10000,), "uint8", "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"),
}

CLASS_NAMES = tuple(str(d) for d in range(10))


class DataError(RuntimeError):
    """MNIST could not be loaded or failed verification (chapter 0).

    Its message says what to do. In a notebook it is shown alone: a traceback through Keras' download
    code (90 lines when the network is down) would bury it.
    """

    def _render_traceback_(self) -> list[str]:  # IPython shows these lines instead of a traceback
        return [f"{type(self).__name__}: {self}"]


class MNIST(NamedTuple):
    """Train / validation / test arrays; the validation pair is None without a split (chapter 0)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray


N_TRAIN, N_TEST = EXPECTED["y_train"][0][0], EXPECTED["y_test"][0][0]  # 60,000 and 10,000 images


def sha256_of(array: np.ndarray) -> str:
    """SHA-256 of an array's raw bytes, independent of how it was stored (chapter 0)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def verify_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    """Raise DataError unless all four MNIST arrays match shape, dtype and checksum (chapter 0)."""
    missing = [name for name in EXPECTED if name not in arrays]
    if missing:
        raise DataError(
            f"{source}: the array '{missing[0]}' is missing; this is not Keras' MNIST layout "
            f"(expected keys {sorted(EXPECTED)}, found {sorted(arrays)})."
        )
    for name, (shape, dtype, digest) in EXPECTED.items():
        a = arrays[name]
        if a.shape != shape or str(a.dtype) != dtype:
            raise DataError(
                f"{source}: '{name}' has shape {a.shape} and dtype {a.dtype}, expected "
                f"{shape} and {dtype}. The file is incomplete or not MNIST; delete it and "
                "download it again."
            )
        if sha256_of(a) != digest:
            raise DataError(
                f"{source}: '{name}' has the right shape but different contents (SHA-256 "
                "mismatch). The file was altered or corrupted; replace it with a fresh copy."
            )


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read the four arrays of an MNIST .npz file, turning every failure into a DataError (chapter 0)."""
    if not path.is_file():
        raise DataError(
            f"No MNIST file at {path}. Put Keras' mnist.npz there, or unset {ENV_VAR} to let Keras download it."
        )
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as npz:  # closed on errors too
            return {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        raise DataError(
            f"{path} could not be read as an .npz archive ({type(err).__name__}: {err}). "
            "It is probably truncated or corrupted; replace it with a fresh copy."
        ) from err


def local_source() -> Path | None:
    """The local mnist.npz named by COURSE_DATA_DIR (a folder or the file itself), or None (chapter 0)."""
    value = os.environ.get(ENV_VAR, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_dir() or not path.suffix:
        path = path / FILE_NAME
    return path


def download_with_keras() -> dict[str, np.ndarray]:
    """Fetch MNIST through keras.datasets (downloads once, then reads Keras' cache) (chapter 0)."""
    try:
        from keras.datasets import mnist
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise DataError(
            "Keras is not installed, so MNIST cannot be downloaded. Install the course "
            f"requirements, or set {ENV_VAR} to a folder holding mnist.npz."
        ) from err
    try:
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as err:  # network errors come in many types (URLError, OSError, HTTPError...)
        raise DataError(
            f"Keras could not download MNIST ({type(err).__name__}: {err}). Check your internet "
            f"connection, or work offline by setting {ENV_VAR} to a folder that holds mnist.npz "
            "(Keras' layout, e.g. a copy of ~/.keras/datasets/mnist.npz)."
        ) from err
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


_VERIFIED: dict[tuple[str, int, int], dict[str, np.ndarray]] = {}  # (source, mtime_ns, size) -> arrays


def load_raw_mnist() -> dict[str, np.ndarray]:
    """The verified uint8 MNIST arrays, from COURSE_DATA_DIR if set, else Keras' download (chapter 0).

    Hashing 55 MB takes a while, so the verified arrays are kept per file (a changed file is
    read and verified again). They are read-only: every caller gets copies of what it selects.
    """
    path = local_source()
    if path is None:
        key = ("keras", 0, 0)
    else:
        if not path.is_file():
            read_npz(path)  # raises the DataError that says where it looked
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _VERIFIED:
        if path is not None:
            arrays, source = read_npz(path), str(path)
        else:
            arrays, source = download_with_keras(), "Keras' MNIST download"
        verify_arrays(arrays, source)
        for array in arrays.values():
            array.flags.writeable = False
        _VERIFIED.clear()  # one data set at a time
        _VERIFIED[key] = arrays
    return _VERIFIED[key]


def _subset(n_total: int, size: int | None, rng: np.random.Generator) -> np.ndarray:
    if size is None:
        return np.arange(n_total)
    return np.sort(rng.permutation(n_total)[:size])


def _check_sizes(validation: int | float, train_size: int | None, test_size: int | None) -> int:
    """The number of validation examples; impossible sizes are refused with a clear message, before
    anything is read (MNIST has 60,000 training and 10,000 test images)."""
    for name, size, total in (("train_size", train_size, N_TRAIN), ("test_size", test_size, N_TEST)):
        if size is not None and not 0 < size <= total:
            raise ValueError(f"{name} must be between 1 and {total}, got {size}.")
    n_train = train_size or N_TRAIN
    if isinstance(validation, float) and not 0 <= validation < 1:
        raise ValueError(f"A fractional validation split must be in [0, 1), got {validation}.")
    n_val = int(round(validation * n_train)) if isinstance(validation, float) else int(validation)
    if not 0 <= n_val < n_train:
        raise ValueError(f"validation must leave some training data: got {n_val} of {n_train}.")
    return n_val


def load_mnist(
    scale: bool = True,
    validation: int | float = 0,
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    flatten: bool = False,
) -> MNIST:
    """MNIST as arrays: scaled to [0, 1], with an optional validation split and subset (chapter 0).

    scale       -- float32 pixels in [0, 1] (True) or the raw uint8 values 0..255 (False)
    validation  -- examples held out of the training set: a count, or a fraction in (0, 1);
                   they are the last ones of the (sub)set, as Keras' ``validation_split`` takes them
    train_size  -- a deterministic random subset of the 60,000 training images (None: all)
    test_size   -- the same for the 10,000 test images
    seed        -- picks the subsets; the same seed always gives the same images, in original order
    flatten     -- images as vectors of 784 pixels instead of 28 x 28 arrays
    """
    n_val = _check_sizes(validation, train_size, test_size)  # before anything is read or hashed
    raw = load_raw_mnist()
    rng = np.random.default_rng(seed)
    train_idx = _subset(len(raw["y_train"]), train_size, rng)
    test_idx = _subset(len(raw["y_test"]), test_size, rng)
    x_train, y_train = raw["x_train"][train_idx], raw["y_train"][train_idx]
    x_test, y_test = raw["x_test"][test_idx], raw["y_test"][test_idx]

    def prepare(x: np.ndarray) -> np.ndarray:
        x = x.astype("float32") / 255.0 if scale else x
        return x.reshape(len(x), -1) if flatten else x

    x_train, x_test = prepare(x_train), prepare(x_test)
    if n_val:
        return MNIST(x_train[:-n_val], y_train[:-n_val], x_train[-n_val:], y_train[-n_val:], x_test, y_test)
    return MNIST(x_train, y_train, None, None, x_test, y_test)
