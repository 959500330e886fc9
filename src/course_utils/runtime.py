"""Runtime set-up: quiet logs, seeds, the training device, precision (chapter 0).

Call :func:`setup` in a notebook's first code cell, *before* anything imports TensorFlow,
so the log settings take effect::

    from course_utils.runtime import setup
    runtime = setup(seed=42)
"""

from __future__ import annotations

import logging
import os
import platform
import random
import re
import shutil
import sys
import textwrap
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

# The lowest versions under which every chapter reproduces its page. Keras 3.14 is the first that
# divides an activity penalty by the batch size, as its documentation says (keras-team/keras#22018);
# under 3.13 chapter 4's "L1 on activations" run silences every hidden unit instead of about half.
# requirements.in and the chapters' install cells use the same floors (tests/test_release.py).
VERSION_FLOORS: dict[str, str] = {"keras": "3.14"}


class VersionError(RuntimeError):
    """An installed package is older than the course's floor (chapter 0)."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"{type(self).__name__}: {self}"]


def version_tuple(version: str) -> tuple[int, ...]:
    """(3, 14, 0) for "3.14.0rc1": the release numbers, enough to compare with a floor (chapter 0)."""
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3])


def check_versions(installed: dict[str, str], floors: dict[str, str] | None = None) -> None:
    """Refuse to run on a package older than its floor, saying how to upgrade (chapter 0).

    A silent difference is worse than a stop: an older Keras trains, but some results differ from
    the page the reader compares them with.
    """
    for name, floor in (VERSION_FLOORS if floors is None else floors).items():
        have = installed.get(name)
        if have is not None and version_tuple(have) < version_tuple(floor):
            raise VersionError(
                f"{name} {have} is older than {floor}, the lowest version under which this course's "
                f"results hold. Upgrade it (pip install -U '{name}>={floor}', or run the chapter's "
                "first cell in Colab), then restart the kernel."
            )


@dataclass(frozen=True)
class RuntimeInfo:
    """What :func:`setup` found: device, versions and settings (chapter 0)."""

    device: str  # "GPU" or "CPU"
    device_name: str  # e.g. "NVIDIA H100 80GB HBM3" or "CPU"
    reason: str  # why this device was chosen
    tensorflow: str  # TensorFlow version
    keras: str  # Keras version
    python: str  # Python version
    seed: int | None  # the global seed, if one was set
    deterministic: bool  # deterministic TensorFlow ops were requested
    mixed_precision: bool  # the mixed_float16 policy is active

    def report(self) -> str:
        """Two short lines (they fit a book's text column): where training runs and why, and versions."""
        extras = []
        if self.seed is not None:
            extras.append(f"seed {self.seed}")
        if self.deterministic:
            extras.append("deterministic ops")
        if self.mixed_precision:
            extras.append("mixed precision")
        tail = f"; {', '.join(extras)}" if extras else ""
        return (
            f"Training on {self.device} ({self.device_name}): {self.reason}.\n"
            f"TensorFlow {self.tensorflow}, Keras {self.keras}, Python {self.python}{tail}."
        )


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ and Python log lines out of notebook output (chapter 0)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ INFO/WARNING/ERROR before import
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass
    # Only the frameworks' own warnings: a student's code keeps all of its warnings.
    for module in ("tensorflow", "keras", "tf_keras", "absl", "google.protobuf", "h5py"):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=module)
        warnings.filterwarnings("ignore", category=FutureWarning, module=module)
    warnings.filterwarnings("ignore", message=".*input_shape.*", module="keras")


@contextmanager
def silenced_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a while: TensorFlow's C++ start-up lines bypass Python (chapter 0)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Import TensorFlow and Keras without their start-up log lines; returns the tf module (chapter 0)."""
    quiet_tensorflow()
    with silenced_stderr():
        import keras  # noqa: F401  (imported here so its own start-up is silenced too)
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the first device query logs about CUDA
    tf.get_logger().setLevel(logging.ERROR)
    return tf


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow/Keras in one call; optionally force deterministic ops (chapter 0)."""
    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def cpu_reason(tf_module) -> str:
    """Explain why TensorFlow trains on the CPU (chapter 0)."""
    if shutil.which("nvidia-smi") or os.path.exists("/proc/driver/nvidia/version"):
        if not tf_module.test.is_built_with_cuda():
            return (
                "an NVIDIA driver is present, but this TensorFlow build has no CUDA support "
                "(on Linux: pip install 'tensorflow[and-cuda]')"
            )
        return "an NVIDIA driver is present, but TensorFlow could not use the GPU (check CUDA/cuDNN)"
    if platform.system() == "Darwin":
        return "no GPU visible to TensorFlow (on Apple silicon: pip install tensorflow-metal)"
    return "no GPU visible to TensorFlow (chapters are sized for a CPU)"


def select_device(memory_growth: bool = True) -> tuple[str, str, str]:
    """(device, name, reason) for training; turns on GPU memory growth when asked (chapter 0)."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU", platform.machine() or "CPU", cpu_reason(tf)  # processor() would run `uname -p`
    if memory_growth:
        for gpu in gpus:
            try:
                tf.config.experimental.set_memory_growth(gpu, True)
            except RuntimeError:  # already initialised: growth can only be set before first use
                pass
    details = tf.config.experimental.get_device_details(gpus[0])
    name = details.get("device_name", gpus[0].name)
    count = f"{len(gpus)} GPUs, using the first" if len(gpus) > 1 else "1 GPU"
    return "GPU", name, f"TensorFlow sees {count}"


def inline_figures() -> None:
    """Inside a Jupyter kernel, draw figures inline even if MPLBACKEND says otherwise (chapter 0)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - plain Python without IPython
        return
    shell = get_ipython()
    if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
        shell.run_line_magic("matplotlib", "inline")


def setup(
    seed: int | None = 0,
    deterministic: bool = False,
    mixed_precision: bool = False,
    memory_growth: bool = True,
    verbose: bool = True,
) -> RuntimeInfo:
    """Quiet the logs, seed everything, pick the device and report it in two short lines (chapter 0).

    seed            -- global seed for Python, NumPy and Keras (None: leave unseeded)
    deterministic   -- ask TensorFlow for deterministic ops (slower on GPU)
    mixed_precision -- use the mixed_float16 policy (fast on recent GPUs, pointless on CPU)
    memory_growth   -- let TensorFlow take GPU memory as needed instead of all at once
    verbose         -- print the one-line device report
    """
    inline_figures()
    tf = import_tensorflow()
    import keras

    check_versions({"keras": keras.__version__, "tensorflow": tf.__version__})

    device, name, reason = select_device(memory_growth)
    if seed is not None:
        seed_everything(seed, deterministic)
    elif deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")
    info = RuntimeInfo(
        device=device,
        device_name=name,
        reason=reason,
        tensorflow=tf.__version__,
        keras=keras.__version__,
        python=platform.python_version(),
        seed=seed,
        deterministic=deterministic,
        mixed_precision=mixed_precision,
    )
    if verbose:
        # each of the two lines wrapped to the pages' code column (about 90 characters)
        print("\n".join(textwrap.fill(line, width=88) for line in info.report().splitlines()))
    return info


def in_colab() -> bool:
    """True inside Google Colab (chapter 0)."""
    return "google.colab" in sys.modules
