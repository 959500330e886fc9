"""Isolation of student kernels by the operating system.

Each kernel runs inside bubblewrap (``bwrap``, Debian's ``bubblewrap`` package): in new user,
PID, network, IPC and mount namespaces, it sees only a size-capped in-memory /tmp (read-write,
its working folder and home included), the Python installation and the course package
(read-only, wherever they are installed, /tmp included), and the data it may load. The hidden
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
from collections.abc import Iterable, Mapping
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
SHM_BYTES = 64 * 1024 * 1024  # /dev/shm inside the sandbox (POSIX semaphores and shared memory)
FONTS_INSIDE = "/opt/course-grader-fonts"  # matplotlib's font list, read-only, copied into the home


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
    """'bwrap', or 'none' when the instructor asked to grade without isolation.

    ``--unsafe-no-sandbox`` wins even where bwrap works: an instructor who passes it has a reason
    (debugging a kernel that dies in the sandbox, a machine whose bwrap misbehaves), and a flag that
    is silently ignored would make that reason invisible.
    """
    if unsafe_no_sandbox:
        return "none"
    if bubblewrap_works():
        return "bwrap"
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
    candidates = [Path(local).expanduser()] if local else []
    candidates.append(Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets")
    for folder in candidates:
        try:  # a folder the grader's account may not enter (another user's home) is simply not offered
            if folder.is_dir() and os.access(folder, os.R_OK | os.X_OK):
                paths.append(str(folder.resolve()))
        except OSError:
            continue
    return paths


def framework_folders() -> list[str]:
    """The package folders of the frameworks a NumPy-only exercise must not use, found without importing them."""
    import importlib.util

    from course_utils.watch import FRAMEWORKS

    folders = set()
    for top in FRAMEWORKS:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            folders.add(os.path.realpath(folder))
    # a package may extend its path with its own subfolders (tensorflow/_api/v2): the outermost is enough
    return sorted(f for f in folders if not any(f.startswith(o + os.sep) for o in folders))


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


def prepare_fonts(folder: Path) -> Path:
    """A folder with matplotlib's font list, which each kernel copies into its home at start.

    Without it every kernel rebuilds the list (seconds, and it runs fc-list); the copy is made at
    start because the kernel's home is a fresh in-memory folder that the grader cannot write into.
    """
    import matplotlib
    from matplotlib import font_manager  # noqa: F401  (builds the grader's own font list if missing)

    folder.mkdir(parents=True, exist_ok=True)
    for cached in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
        shutil.copy2(cached, folder / cached.name)
    return folder


def inside_home(avoid: Iterable[str]) -> str:
    """The kernel's working folder and home inside the sandbox: in its size-capped /tmp.

    It must not coincide with, or contain, a host path mounted into the sandbox (a project or
    data folder that lives under /tmp), since those are mounted at their own paths.
    """
    taken = [Path(p) for p in avoid]
    name, n = "/tmp/home", 1
    while any(Path(name) == t or Path(name) in t.parents or t in Path(name).parents for t in taken):
        n += 1
        name = f"/tmp/home-{n}"
    return name


def bwrap_prefix(
    ipc_dir: Path,
    readable: Iterable[str],
    writable_files: Iterable[str] = (),
    limits: Limits | None = None,
    fonts: Path | None = None,
    emptied: Iterable[str] = (),
) -> list[str]:
    """bwrap's arguments for one kernel: a capped in-memory /tmp and home, the given paths read-only.

    Order matters, since bwrap mounts in order: the empty, size-capped /tmp comes first and the
    read-only folders after it, so that a project, an environment or a data folder under /tmp stays
    visible (mounted the other way round, the empty /tmp hid them and every kernel died at start).
    ``ipc_dir`` (the connection file and ZeroMQ's sockets) is the only host folder the kernel may
    write; ``writable_files`` are single files it may append to (the guard's log). The root and
    /dev/shm are read-only or capped too, so that every byte the student can store is counted.
    ``emptied`` folders (the frameworks', for the kernel that grades NumPy-only exercises) are
    replaced by an empty, read-only folder.
    """
    limits = limits or Limits()
    readable = sorted({str(Path(p)) for p in readable}, key=lambda p: (len(Path(p).parts), p))  # parents first
    ipc = str(ipc_dir.resolve())
    home = inside_home([*readable, ipc, *writable_files])
    args = [BWRAP, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
    args += ["--size", str(limits.disk_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    for d in SYSTEM_DIRS:
        if os.path.isdir(d) and not os.path.islink(d):
            args += ["--ro-bind", d, d]
        elif os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
    for name in ETC_FILES:
        path = Path("/etc") / name
        if path.exists():
            args += ["--ro-bind", str(path), str(path)]
    args += ["--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm", "--proc", "/proc"]
    for p in readable:
        args += ["--ro-bind", p, p]
    for p in sorted({str(Path(e)) for e in emptied}):
        if os.path.isdir(p):
            args += ["--size", "4096", "--tmpfs", p, "--remount-ro", p]
    args += ["--bind", ipc, ipc]
    for f in writable_files:
        args += ["--bind", f, f]
    if fonts is not None:
        args += ["--ro-bind", str(fonts.resolve()), FONTS_INSIDE]
    args += ["--dir", home, "--chdir", home, "--remount-ro", "/"]
    args += ["--setenv", "HOME", home, "--setenv", "MPLCONFIGDIR", f"{home}/.matplotlib"]
    args += ["--unsetenv", "JPY_PARENT_PID", "--"]
    if fonts is not None:  # copy the font list into the home, then become the kernel
        args += ["/bin/sh", "-c", f'cp -R {FONTS_INSIDE} "$HOME/.matplotlib"; exec "$@"', "kernel"]
    return args


# Environment variables a kernel may inherit from the grader: locale, time zone, the data folder and
# the libraries' quiet and thread settings. Everything else (tokens, credentials, paths of the
# grader's files) stays in the grader's process.
ENV_ALLOWED = (
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_NUMERIC",
    "LC_MESSAGES",
    "TZ",
    "COURSE_DATA_DIR",
    "KERAS_HOME",
    "KERAS_BACKEND",
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_ENABLE_ONEDNN_OPTS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MPLBACKEND",
    "PYTHONHASHSEED",
    "JUPYTER_PLATFORM_DIRS",
    "LD_LIBRARY_PATH",
)


def kernel_environment(isolation: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The kernel's environment, built from an allow-list rather than by removing what looks secret.

    Bytecode is never written: the package is read-only for kernels, and the attempt to write a
    ``.pyc`` there was refused by the guard and reported as a forbidden operation of an honest
    notebook. Without the sandbox the kernel keeps the grader's HOME (the batch gives it a TMPDIR in
    its own folder, removed afterwards); in it, bwrap sets HOME to the capped in-memory home.
    """
    environ = os.environ if environ is None else environ
    env = {k: environ[k] for k in ENV_ALLOWED if k in environ}
    if env.get("COURSE_DATA_DIR", "").strip():  # mounted at its resolved path (see data_paths)
        env["COURSE_DATA_DIR"] = str(Path(env["COURSE_DATA_DIR"].strip()).expanduser().resolve())
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if isolation != "bwrap":
        env.update({k: environ[k] for k in ("HOME",) if k in environ})
    return env


def kernel_manager(workdir: Path, prefix: list[str], interrupt_by_message: bool, max_message: int = 0) -> Any:
    """A kernel manager whose kernel starts behind the given command prefix, talking over Unix sockets."""
    import zmq
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

    class GradedKernelManager(AsyncKernelManager):
        """Its clients refuse messages larger than ``max_message`` (ZeroMQ drops them unread), so that
        the grader's memory stays bounded whatever the kernel sends."""

        def client(self, **kwargs: Any) -> Any:
            kc = super().client(**kwargs)
            if max_message:
                kc.context.setsockopt(zmq.MAXMSGSIZE, max_message)
            return kc

    return GradedKernelManager(
        kernel_name="graded",
        kernel_spec_manager=GradedKernelSpecs(),
        transport="ipc",
        ip=str(workdir / "kernel-ipc"),
        connection_file=str(workdir / "kernel.json"),
    )
