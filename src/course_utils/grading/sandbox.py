"""Isolation of student kernels by the operating system.

Each kernel runs inside bubblewrap (``bwrap``, Debian's ``bubblewrap`` package): in new user,
PID, network, IPC and mount namespaces, it sees only its own temporary folder (read-write), the
Python installation and the course package (read-only), and the data it may load. The hidden
tree, the output folder, the originals and other students' folders do not exist for it; it has
no network, cannot see or signal the grader, and dies with the grader. The operating system also
caps its address space, file size, CPU time and number of processes (``prlimit``).

The kernel talks to the grader through Unix sockets in its folder (ZeroMQ's ``ipc`` transport),
since it has no network, and is interrupted by a message rather than a signal (a signal to the
sandbox would end it).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from course_utils.grading.types import GraderError, Limits

BWRAP = "bwrap"
# What a Python process needs from the system, read-only (the rest of /etc stays out of sight).
SYSTEM_DIRS = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin")
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "passwd",
    "group",
    "nsswitch.conf",
    "hosts",
    "ssl",
    "ca-certificates",
    "fonts",
    "mime.types",
    "matplotlibrc",
)


@functools.lru_cache(maxsize=1)
def bubblewrap_works() -> bool:
    """True when bwrap is installed and may create the namespaces (user namespaces allowed)."""
    if shutil.which(BWRAP) is None:
        return False
    probe = [
        BWRAP,
        "--unshare-all",
        "--die-with-parent",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "true",
    ]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def choose_isolation(unsafe_no_sandbox: bool) -> str:
    """'bwrap', or 'none' when the instructor accepted to grade without isolation."""
    if bubblewrap_works():
        return "bwrap"
    if unsafe_no_sandbox:
        return "none"
    raise GraderError(
        "no sandbox for the students' kernels: install bubblewrap (Debian/Ubuntu: apt-get install "
        "bubblewrap; it needs unprivileged user namespaces), or pass --unsafe-no-sandbox to grade "
        "without isolation (only for code you trust)"
    )


def python_paths() -> list[str]:
    """What the kernel needs to run this Python and import course_utils: the installation and the package."""
    import course_utils

    package_parent = Path(course_utils.__file__).resolve().parents[1]  # site-packages, or src/ when editable
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), package_parent}
    return sorted(str(p) for p in paths)


def data_paths() -> list[str]:
    """Read-only data a kernel may load: the course's MNIST copy and Keras' download cache."""
    paths = []
    local = os.environ.get("COURSE_DATA_DIR", "").strip()
    if local and Path(local).expanduser().exists():
        paths.append(str(Path(local).expanduser().resolve()))
    keras_cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    if keras_cache.is_dir():
        paths.append(str(keras_cache.resolve()))
    return paths


def check_hidden_paths_stay_hidden(readable: Iterable[str], hidden: Iterable[str]) -> None:
    """Refuse a sandbox whose read-only folders would contain the hidden tree, the outputs or a submission."""
    readable_paths = [Path(p).resolve() for p in readable]
    for h in hidden:
        hp = Path(h).resolve()
        for r in readable_paths:
            if hp == r or r in hp.parents:
                raise GraderError(
                    f"{hp} lies inside {r}, which student kernels must be able to read: "
                    "keep the instructor tree, the submissions and --out elsewhere"
                )


def limits_prefix(limits: Limits) -> list[str]:
    """prlimit's arguments: address space, file size, CPU seconds and processes, set by the kernel of the OS."""
    address_space = (limits.memory_mb + 4096) * 1024 * 1024  # virtual memory runs ahead of resident memory
    cpu_seconds = int(limits.notebook_timeout * 2) + 60  # two cores busy for the whole notebook
    return [
        "prlimit",
        f"--as={address_space}",
        f"--fsize={256 * 1024 * 1024}",
        f"--cpu={cpu_seconds}",
        "--nproc=4096",
        "--core=0",
        "--",
    ]


def prepare_workdir(workdir: Path) -> None:
    """Give the kernel matplotlib's font list, so that it does not rebuild it (which runs fc-list)."""
    import matplotlib
    from matplotlib import font_manager  # noqa: F401  (builds the grader's own font list if missing)

    target = workdir / ".matplotlib"
    target.mkdir(exist_ok=True)
    for cached in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copy2(cached, target / cached.name)


def bwrap_prefix(workdir: Path, readable: Iterable[str], writable_files: Iterable[str] = ()) -> list[str]:
    """bwrap's arguments for one kernel: its folder read-write, the given paths read-only, nothing else.

    ``writable_files`` are single files outside the folder that the kernel may append to (the
    guard's log of refused operations).
    """
    args = [BWRAP, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    for d in SYSTEM_DIRS:
        if os.path.isdir(d) and not os.path.islink(d):
            args += ["--ro-bind", d, d]
        elif os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    for p in readable:
        args += ["--ro-bind", p, p]
    work = str(workdir.resolve())
    args += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--bind", work, work]
    for f in writable_files:
        args += ["--bind", f, f]
    args += [
        "--chdir",
        work,
        "--setenv",
        "HOME",
        work,
        "--setenv",
        "MPLCONFIGDIR",
        f"{work}/.matplotlib",
        "--unsetenv",
        "JPY_PARENT_PID",
        "--",
    ]
    return args


def kernel_manager(workdir: Path, prefix: list[str], interrupt_by_message: bool) -> Any:
    """A kernel manager whose kernel starts behind the given command prefix, talking over Unix sockets."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    argv = [*prefix, sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = KernelSpec(
        argv=argv,
        display_name="Python 3 (graded)",
        language="python",
        env={},
        interrupt_mode="message" if interrupt_by_message else "signal",
    )

    class GradedKernelSpecs(KernelSpecManager):
        """The one kernel spec of a graded run (public hook: KernelSpecManager.get_kernel_spec)."""

        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return spec

    return AsyncKernelManager(
        kernel_name="graded",
        kernel_spec_manager=GradedKernelSpecs(),
        transport="ipc",
        ip=str(workdir / "kernel-ipc"),
        connection_file=str(workdir / "kernel.json"),
    )
