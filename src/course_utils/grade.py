"""The instructors' grader: runs students' notebooks and judges them with hidden checks.

Usage::

    python -m course_utils.grade SUBMISSIONS --instructor PATH/TO/instructor --out OUT [options]
    course-grade SUBMISSIONS --instructor PATH/TO/instructor --out OUT [options]

SUBMISSIONS is one notebook or a folder of notebooks (``alice.ipynb`` or ``alice/whatever.ipynb``).
Each submission runs on a temporary copy in its own kernel: a guard cell, then the cells of its
exercise section, then one *export cell* per exercise, which calls the student's code on hidden
inputs and sends the results back as JSON. The results are judged here, in the grader's own
process, against the reference solutions; nothing a notebook redefines changes a verdict.

Outputs in OUT: ``grades.csv``, ``grades.json`` (everything, for the instructor) and
``feedback/<student>.md`` (or ``.html``): verdicts and hints only, never hidden code or values.

The hidden tree (``instructor/chNN/checks.py`` and ``solutions.py``) is described in
:class:`HiddenChapter` and in the instructors' page of the book.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import csv
import hashlib
import html
import importlib.util
import inspect
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.checking import CheckFailed, Verdict

EXPORT_MIME = "application/x-course-export+json"
DENIED_MARK = "course-grader-denied"
MAX_MESSAGE = 300  # characters of a student-caused error message shown in feedback


class GraderError(Exception):
    """Misuse of the grader (bad paths, a broken instructor tree): reported, exit code 2."""


# ---------------------------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's run."""

    cell_timeout: float = 120.0        # seconds per cell (graded cells and each export)
    notebook_timeout: float = 600.0    # seconds for the whole notebook, kernel start included
    memory_mb: int = 4096              # resident memory of the kernel and its children
    max_output_kb: int = 256           # notebook output kept in memory; the rest is dropped
    max_export_kb: int = 4096          # JSON exported per exercise


@dataclass(frozen=True)
class Settings:
    """What to grade, where the hidden tree is, where the reports go."""

    submissions: Path                  # a notebook or a folder of notebooks
    instructor: Path                   # the hidden tree (instructor/chNN/checks.py, solutions.py)
    out: Path                          # output folder for grades and feedback
    chapter: str | None = None         # expected chapter (e.g. "ch00"); None: each notebook's own
    jobs: int = 2                      # submissions run in parallel
    limits: Limits = field(default_factory=Limits)
    feedback_format: str = "md"        # "md" or "html"


# ---------------------------------------------------------------------------------------------
# The JSON codec of exported values (never pickle: the kernel is under the student's control)
# ---------------------------------------------------------------------------------------------

_DTYPES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "float32", "float64"}


def encode_default(obj):
    """json.dumps default= hook: NumPy arrays and scalars, tensors (also run inside kernels)."""
    import numpy
    if hasattr(obj, "numpy") and callable(obj.numpy):
        obj = obj.numpy()
    if isinstance(obj, numpy.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, numpy.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot export a value of type {type(obj).__name__}")


def _decode_object(d: dict[str, Any]) -> Any:
    """json object_hook: rebuild the NumPy arrays written by :func:`encode_default`."""
    if "__ndarray__" not in d:
        return d
    if set(d) != {"__ndarray__", "dtype", "shape"} or d["dtype"] not in _DTYPES:
        raise ValueError("malformed array in the export")
    arr = np.asarray(d["__ndarray__"], dtype=d["dtype"])
    return arr.reshape([int(s) for s in d["shape"]])


def encode(value: Any) -> str:
    """Serialize an export with the codec."""
    return json.dumps(value, default=encode_default, allow_nan=True)


def decode(text: str, max_chars: int = 4096 * 1024) -> Any:
    """Parse an export, refusing oversized or malformed input (raises ValueError)."""
    if not isinstance(text, str) or len(text) > max_chars:
        raise ValueError("export missing or too large")
    try:
        return json.loads(text, object_hook=_decode_object)
    except (RecursionError, TypeError) as err:
        raise ValueError(f"malformed export ({type(err).__name__})") from None


# ---------------------------------------------------------------------------------------------
# The hidden tree
# ---------------------------------------------------------------------------------------------

Judge = Callable[[Any, Any], Verdict]


@dataclass
class HiddenChapter:
    """One chapter's hidden checks, loaded from instructor/chNN/checks.py and solutions.py.

    checks.py defines ``EXPORTS`` {id: snippet that leaves a JSON-able value in ``_export``},
    ``JUDGES`` {id: judge(student_export, reference_export) -> Verdict}, and optionally
    ``PRELUDE`` (source run before every snippet) and ``POINTS`` {id: points, default 1}.
    solutions.py defines ``SOLUTIONS`` {id: source of the exercise cell}, ``WRONG``
    {id: [(name, source), ...]} of plausible wrong answers and, optionally, ``TAUGHT``
    {id: [source, ...]}: code that the chapter shows on purpose and a solution may repeat
    (the leak scan does not search for it).
    """

    chapter: str                                   # "ch00"
    exports: dict[str, str]                        # id -> snippet run in the student's kernel
    judges: dict[str, Judge]                       # id -> judge run in the grader
    points: dict[str, float]                       # id -> points
    prelude: str = ""                              # imports every snippet may rely on
    solutions: dict[str, str] = field(default_factory=dict)
    wrong: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    taught: dict[str, list[str]] = field(default_factory=dict)  # id -> code the chapter shows on purpose
    references: dict[str, Any] | None = None       # id -> reference export (computed once)

    @property
    def ids(self) -> list[str]:
        """Exercise ids in the order of EXPORTS."""
        return list(self.exports)

    @property
    def max_points(self) -> float:
        """Total points of the chapter."""
        return float(sum(self.points.values()))


@dataclass
class InstructorTree:
    """All chapters of the hidden tree, loaded into memory, with a digest of its files."""

    root: Path
    chapters: dict[str, HiddenChapter]
    digest: str


def tree_digest(root: Path) -> str:
    """SHA-256 over the relative paths and contents of every file under root."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _load_module(path: Path, name: str) -> Any:
    """Import one Python file of the hidden tree under a private module name."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GraderError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise GraderError(f"{path} failed to import: {type(err).__name__}: {err}") from err
    return module


def load_chapter(folder: Path) -> HiddenChapter:
    """Load and validate instructor/chNN (raises GraderError with a clear message)."""
    chapter = folder.name
    checks = _load_module(folder / "checks.py", f"_course_hidden_{chapter}_checks")
    exports, judges = getattr(checks, "EXPORTS", None), getattr(checks, "JUDGES", None)
    if not isinstance(exports, dict) or not isinstance(judges, dict):
        raise GraderError(f"{folder}/checks.py must define the dicts EXPORTS and JUDGES")
    if set(exports) != set(judges):
        raise GraderError(f"{folder}/checks.py: EXPORTS and JUDGES differ: {sorted(set(exports) ^ set(judges))}")
    bad = [i for i in exports if not i.startswith(chapter + ".")]
    if bad:
        raise GraderError(f"{folder}/checks.py: exercise ids must start with '{chapter}.': {bad}")
    points = {i: float(getattr(checks, "POINTS", {}).get(i, 1.0)) for i in exports}
    solutions, wrong, taught = {}, {}, {}
    if (folder / "solutions.py").is_file():
        sol = _load_module(folder / "solutions.py", f"_course_hidden_{chapter}_solutions")
        solutions, wrong = dict(getattr(sol, "SOLUTIONS", {})), dict(getattr(sol, "WRONG", {}))
        taught = {k: list(v) for k, v in dict(getattr(sol, "TAUGHT", {})).items()}
    missing = sorted(set(exports) - set(solutions))
    if missing:
        raise GraderError(f"{folder}/solutions.py: no reference solution for {missing}")
    return HiddenChapter(chapter, dict(exports), dict(judges), points, getattr(checks, "PRELUDE", ""),
                         solutions, {k: list(v) for k, v in wrong.items()}, taught)


def load_instructor_tree(root: Path) -> InstructorTree:
    """Load every instructor/chNN folder that has a checks.py."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise GraderError(f"instructor tree not found: {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / "checks.py").is_file())
    if not folders:
        raise GraderError(f"no chapter folder with a checks.py in {root}")
    digest = tree_digest(root)
    return InstructorTree(root, {f.name: load_chapter(f) for f in folders}, digest)


def run_export_in_process(chapter: HiddenChapter, exercise_id: str, source: str) -> Any:
    """Run source (e.g. a reference solution) and the export snippet here; return the decoded export."""
    namespace: dict[str, Any] = {"__name__": "__course_reference__"}
    exec(compile(chapter.prelude + "\n" + source + "\n" + chapter.exports[exercise_id],
                 f"<{exercise_id}>", "exec"), namespace)
    return decode(encode(namespace["_export"]), max_chars=sys.maxsize)


def ensure_references(chapter: HiddenChapter) -> dict[str, Any]:
    """The reference export of every exercise, computed once in the grader's process."""
    if chapter.references is None:
        from .runtime import quiet_tensorflow, silenced_stderr
        quiet_tensorflow()  # the snippets may import TensorFlow: keep its C++ start-up lines quiet
        refs = {}
        for exercise_id in chapter.ids:
            try:
                with silenced_stderr():
                    refs[exercise_id] = run_export_in_process(chapter, exercise_id,
                                                              chapter.solutions[exercise_id])
            except Exception as err:
                raise GraderError(f"the reference solution of {exercise_id} fails its own export: "
                                  f"{type(err).__name__}: {err}") from err
        chapter.references = refs
    return chapter.references


# ---------------------------------------------------------------------------------------------
# Submissions and what to run
# ---------------------------------------------------------------------------------------------

@dataclass
class Submission:
    """One notebook to grade and the student it belongs to."""

    student: str                       # unique key (file stem or folder name, disambiguated)
    path: Path                         # the original, never modified


def _slug(name: str) -> str:
    """A file-name-safe student key."""
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", name).strip("._") or "student"


def find_submissions(target: Path) -> list[Submission]:
    """Notebooks to grade: one file, or every .ipynb under a folder (folder name = student)."""
    target = Path(target)
    if target.is_file():
        paths, root = [target], target.parent
    elif target.is_dir():
        root = target
        paths = sorted(p for p in target.rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts and not any(s.startswith(".") for s in p.relative_to(target).parts))
    else:
        raise GraderError(f"submissions not found: {target}")
    subs, seen = [], set()
    for path in paths:
        rel = path.relative_to(root)
        base = _slug(rel.parts[0] if len(rel.parts) > 1 else path.stem)
        key, n = base, 1
        while key in seen:
            n += 1
            key = f"{base}-{n}"
        seen.add(key)
        subs.append(Submission(key, path))
    return subs


@dataclass
class Plan:
    """What the grader runs for one submission, and what it already knows is wrong."""

    chapter: str | None                    # the chapter graded (None: cannot grade)
    cells: list[Any] = field(default_factory=list)   # code cells of the exercise section
    present: set[str] = field(default_factory=set)   # exercise ids found in the notebook
    notes: list[str] = field(default_factory=list)   # lines for the report
    fatal: str | None = None               # why nothing can be graded


def _course_meta(cell_or_nb: Any) -> dict[str, Any]:
    """The 'course' metadata dict of a cell or notebook ({} if absent or malformed)."""
    meta = cell_or_nb.get("metadata", {}) if isinstance(cell_or_nb, Mapping) else {}
    course = meta.get("course", {}) if isinstance(meta, Mapping) else {}
    return course if isinstance(course, Mapping) else {}


def _source(cell: Mapping[str, Any]) -> str:
    """A cell's source as one string."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def plan_submission(raw: bytes, tree: InstructorTree, expected: str | None) -> Plan:
    """Parse a submission and choose the cells to run; never raises."""
    try:
        nb = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return Plan(None, fatal=f"The file is not a valid notebook (invalid JSON: {err}).")
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return Plan(None, fatal="The file is not a notebook (no list of cells).")
    cells = [c for c in nb["cells"] if isinstance(c, dict)]
    if not cells:
        return Plan(None, fatal="The notebook is empty.")
    ids = [_course_meta(c).get("exercise") for c in cells]
    ids = [i for i in ids if isinstance(i, str)]
    chapter = _course_meta(nb).get("chapter")
    if not isinstance(chapter, str) and ids:
        chapter = ids[0].split(".", 1)[0]
    if expected is not None and chapter != expected:
        found = f"a {chapter} notebook" if isinstance(chapter, str) else "not a course notebook"
        return Plan(None, fatal=f"This is {found}, but {expected} was expected: submit the {expected} notebook.")
    if not isinstance(chapter, str) or chapter not in tree.chapters:
        return Plan(None, fatal=f"No hidden checks for chapter {chapter!r}: is this a course notebook?")
    plan = Plan(chapter)
    starts = [i for i, c in enumerate(cells) if _course_meta(c).get("grading") == "start"]
    if not starts:
        plan.notes.append("The '## Exercises' marker cell is missing: the whole notebook was run.")
    first = starts[0] if starts else 0
    plan.cells = [c for c in cells[first:] if c.get("cell_type") == "code"]
    counts: dict[str, int] = {}
    for c in cells:
        i = _course_meta(c).get("exercise")
        if isinstance(i, str):
            counts[i] = counts.get(i, 0) + 1
    before = {_course_meta(c).get("exercise") for c in cells[:first]}
    for exercise_id in tree.chapters[chapter].ids:
        if counts.get(exercise_id, 0) == 0:
            plan.notes.append(f"{exercise_id}: its exercise cell is missing (deleted, or its metadata was "
                              "removed); copy the cell back from a fresh copy of the chapter.")
        elif exercise_id in before:
            plan.notes.append(f"{exercise_id}: its cell is above the '## Exercises' section and was not run.")
        else:
            plan.present.add(exercise_id)
            if counts[exercise_id] > 1:
                plan.notes.append(f"{exercise_id}: the exercise cell appears {counts[exercise_id]} times; "
                                  "the notebook was run top to bottom, so the last one counts.")
    unknown = sorted(set(counts) - set(tree.chapters[chapter].ids))
    if unknown:
        plan.notes.append(f"Unknown exercise ids ignored: {', '.join(unknown)}.")
    return plan


# ---------------------------------------------------------------------------------------------
# Cells the grader adds: the guard (first) and one export cell per exercise (last)
# ---------------------------------------------------------------------------------------------

def _guard(no_access, read_only, log_path):
    """Kernel side: an audit hook that denies access to the hidden tree and the grader's files."""
    import os
    import pathlib
    import sys
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    realpath, fsdecode, write = os.path.realpath, os.fsdecode, os.write
    path_types = (str, bytes, pathlib.PosixPath, pathlib.PurePosixPath)
    no_access = tuple(no_access) + (log_path,)
    read_only = tuple(read_only)
    file_events = {"open": (0,), "os.listdir": (0,), "os.scandir": (0,), "os.remove": (0,),
                   "os.rmdir": (0,), "os.rename": (0, 1), "shutil.rmtree": (0,), "os.chmod": (0,),
                   "os.chown": (0,), "os.mkdir": (0,), "os.symlink": (0, 1), "os.link": (0, 1),
                   "os.truncate": (0,), "os.utime": (0,), "os.chdir": (0,), "glob.glob": (0,),
                   "shutil.copyfile": (0, 1), "shutil.copytree": (0, 1), "shutil.move": (0, 1),
                   "os.chflags": (0,), "os.setxattr": (0,), "os.removexattr": (0,)}
    writing = {"os.remove", "os.rmdir", "os.rename", "shutil.rmtree", "os.chmod", "os.chown",
               "os.mkdir", "os.symlink", "os.link", "os.truncate", "os.utime", "shutil.move",
               "os.chflags", "os.setxattr", "os.removexattr"}
    always = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
              "os.forkpty", "pty.spawn", "os.kill", "os.killpg", "gc.get_objects", "gc.get_referrers",
              "gc.get_referents", "socket.connect", "socket.sendto", "sys.remote_exec",
              "ctypes.dlsym", "ctypes.cdata", "ctypes.call_function"}
    wflags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def deny(event, what):
        write(fd, f"{event} {what}\n".encode("utf-8", "replace"))
        raise PermissionError(f"{'course-grader-denied'}: {event} {what} is not allowed while grading")

    def inside(path, roots):
        return any(path == r or path.startswith(r + "/") for r in roots)

    def hook(event, args):
        if event in always:
            deny(event, "")
        slots = file_events.get(event)
        if slots is None:
            return
        for slot in slots:
            if slot >= len(args) or isinstance(args[slot], int) or args[slot] is None:
                continue
            p = args[slot]
            if type(p) not in path_types:
                deny(event, f"with a path of type {type(p).__name__}")
            path = realpath(fsdecode(p) if isinstance(p, (str, bytes)) else str(p))
            if inside(path, no_access):
                deny(event, path)
            if inside(path, read_only):
                mode = args[1] if event == "open" and len(args) > 1 else None
                flags = args[2] if event == "open" and len(args) > 2 and isinstance(args[2], int) else 0
                if event in writing or (isinstance(mode, str) and any(m in mode for m in "wax+")) \
                        or (event == "open" and mode is None and flags & wflags):
                    deny(event, path)

    sys.addaudithook(hook)


def guard_cell_source(no_access: Iterable[str], read_only: Iterable[str], log_path: str) -> str:
    """Source of the first cell: installs the audit hook (audit hooks cannot be removed)."""
    return (inspect.getsource(_guard) + f"\n_guard({tuple(no_access)!r}, {tuple(read_only)!r}, {log_path!r})\n"
            "del _guard\n")


def _export_one(exercise_id, source, max_chars, encode_default):
    """Kernel side: run one hidden snippet on a copy of the namespace and display its JSON."""
    import json
    from IPython import get_ipython
    from IPython.display import display
    namespace = dict(get_ipython().user_ns)
    try:
        exec(compile(source, "<hidden check>", "exec"), namespace)
        text = json.dumps({"value": namespace["_export"]}, default=encode_default, allow_nan=True)
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 - SystemExit from the student's code included
        text = json.dumps({"error": f"{type(err).__name__}: {err}"[:300]})
    if len(text) > max_chars:
        text = json.dumps({"error": f"the values to check are too large ({len(text) // 1024} KiB)"})
    display({"application/x-course-export+json": {"id": exercise_id, "json": text}}, raw=True)


def export_cells_source(chapter: HiddenChapter, ids: Iterable[str], max_chars: int) -> list[tuple[str, str]]:
    """(id, source) of the export cells: the helper definitions go with each one."""
    helpers = inspect.getsource(encode_default) + "\n" + inspect.getsource(_export_one)
    cells = []
    for exercise_id in ids:
        source = chapter.prelude + "\n" + chapter.exports[exercise_id]
        cells.append((exercise_id, f"{helpers}\n_export_one({exercise_id!r}, {source!r}, {max_chars}, "
                                   "encode_default)\ndel _export_one, encode_default\n"))
    return cells


# ---------------------------------------------------------------------------------------------
# Running one submission in its own kernel
# ---------------------------------------------------------------------------------------------

@dataclass
class RunResult:
    """What came back from a kernel: raw exports (still untrusted text) and notes."""

    exports: dict[str, str] = field(default_factory=dict)   # id -> JSON text from the kernel
    notes: list[str] = field(default_factory=list)
    timed_out: set[str] = field(default_factory=set)        # ids whose export hit the cell limit
    stopped: str | None = None                               # why the run ended early
    denied: list[str] = field(default_factory=list)         # accesses the guard refused
    seconds: float = 0.0


def _make_client_class():
    """A NotebookClient that caps stored output and remembers the cells that timed out."""
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        def __init__(self, *args: Any, max_output: int = 256 * 1024, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.max_output, self.output_size, self.timed_out_cells = max_output, 0, []
            self.cell_output: dict[int, int] = {}  # output bytes per cell index
            self.flooded: set[int] = set()         # cells interrupted for printing too much

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
            content = msg.get("content", {})
            if EXPORT_MIME in content.get("data", {}):
                return super().output(outs, msg, display_id, cell_index)
            size = len(json.dumps(content, default=str))
            self.output_size += size
            self.cell_output[cell_index] = self.cell_output.get(cell_index, 0) + size
            if self.cell_output[cell_index] > self.max_output and cell_index not in self.flooded:
                self.flooded.add(cell_index)  # stop a print loop before it fills the kernel's memory
                if self.km is not None:
                    asyncio.ensure_future(self.km.interrupt_kernel())
            if self.output_size > self.max_output:
                return None
            return super().output(outs, msg, display_id, cell_index)

        async def _async_handle_timeout(self, timeout, cell=None):
            self.timed_out_cells.append(cell)
            return await super()._async_handle_timeout(timeout, cell)

    return CappedClient


def _kernel_env(hidden_paths: Iterable[str]) -> dict[str, str]:
    """The grader's environment minus anything that points at the hidden tree or grader files."""
    hidden = [h for h in hidden_paths if h]
    env = {k: v for k, v in os.environ.items() if not any(h in v for h in hidden)}
    env.pop("JPY_PARENT_PID", None)
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and its children, in bytes (0 if gone)."""
    import psutil
    try:
        proc = psutil.Process(pid)
        return proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True))
    except psutil.Error:
        return 0


def _kill_tree(pid: int) -> None:
    """Kill a process and its children."""
    import psutil
    try:
        proc = psutil.Process(pid)
        for p in proc.children(recursive=True) + [proc]:
            try:
                p.kill()
            except psutil.Error:
                pass
    except psutil.Error:
        pass


def _kernel_pid(client: Any) -> int | None:
    """The pid of the client's kernel, once started."""
    km = getattr(client, "km", None)
    prov = getattr(km, "provisioner", None) if km is not None else None
    proc = getattr(prov, "process", None) if prov is not None else None
    return getattr(proc, "pid", None)


async def run_submission(cells: list[Any], exports: list[tuple[str, str]], workdir: Path,
                         guard: str, limits: Limits, env: dict[str, str]) -> RunResult:
    """Execute guard + cells + export cells in a fresh kernel under the limits; never raises."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_code_cell(guard))
    for c in cells:
        nb.cells.append(nbformat.v4.new_code_cell(_source(c)))
    first_export = len(nb.cells)
    for _, src in exports:
        nb.cells.append(nbformat.v4.new_code_cell(src))
    client = _make_client_class()(
        nb, timeout=int(math.ceil(limits.cell_timeout)), kernel_name="python3", allow_errors=True,
        interrupt_on_timeout=True, record_timing=False, startup_timeout=120,
        error_on_timeout={"ename": "CellTimeout", "evalue": f"cell exceeded {limits.cell_timeout:g} s",
                          "traceback": []},
        resources={"metadata": {"path": str(workdir)}}, max_output=limits.max_output_kb * 1024)
    result = RunResult()
    t0 = time.monotonic()
    killed: list[str] = []

    async def watchdog() -> None:
        """Kill the kernel when it uses too much memory or the notebook runs out of time."""
        while True:
            await asyncio.sleep(0.25)
            pid = _kernel_pid(client)
            if time.monotonic() - t0 > limits.notebook_timeout:
                killed.append(f"The notebook did not finish within {limits.notebook_timeout:g} s and was stopped.")
            elif pid is not None and _tree_rss(pid) > limits.memory_mb * 1024 * 1024:
                killed.append(f"The kernel used more than {limits.memory_mb} MB of memory and was stopped.")
            else:
                continue
            if pid is not None:
                _kill_tree(pid)
            return

    dog = asyncio.ensure_future(watchdog())
    try:
        await asyncio.wait_for(client.async_execute(cwd=str(workdir), env=env, stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL), limits.notebook_timeout + 60)
    except asyncio.TimeoutError:  # the watchdog should have ended it first
        result.stopped = killed[0] if killed else f"The notebook did not finish within {limits.notebook_timeout:g} s."
    except DeadKernelError:
        result.stopped = killed[0] if killed else "The kernel died (the notebook crashed it, e.g. os._exit or a crash)."
    except Exception as err:  # kernel failed to start, protocol errors
        result.stopped = killed[0] if killed else f"The notebook could not be run: {type(err).__name__}: {err}"[:MAX_MESSAGE]
    finally:
        dog.cancel()
        pid = _kernel_pid(client)
        if pid is not None:
            _kill_tree(pid)
        try:
            await client._async_cleanup_kernel()
        except Exception:
            pass
    if killed and result.stopped is None:
        result.stopped = killed[0]
    result.seconds = time.monotonic() - t0
    timed_out = {id(c) for c in client.timed_out_cells}
    for k, cell in enumerate(nb.cells):
        outputs = cell.get("outputs", [])
        if k == 0:
            if any(o.get("output_type") == "error" for o in outputs):
                result.notes.append("The grader's guard cell failed; ask your instructor.")
            continue
        if k < first_export:
            label = f"Cell {k} of the exercise section"
            if id(cell) in timed_out:
                result.notes.append(f"{label} did not finish within {limits.cell_timeout:g} s and was interrupted.")
            for o in outputs:
                if o.get("output_type") == "error" and DENIED_MARK in str(o.get("evalue", "")):
                    result.notes.append(f"{label} tried a forbidden operation, which was blocked.")
                elif o.get("output_type") == "error" and o.get("ename") != "CellTimeout":
                    result.notes.append(f"{label} raised {o.get('ename')}: {o.get('evalue', '')}"[:MAX_MESSAGE])
            continue
        exercise_id = exports[k - first_export][0]
        if id(cell) in timed_out:
            result.timed_out.add(exercise_id)
        for o in outputs:
            data = o.get("data", {}) if o.get("output_type") == "display_data" else {}
            payload = data.get(EXPORT_MIME)
            if isinstance(payload, Mapping) and payload.get("id") == exercise_id and isinstance(payload.get("json"), str):
                result.exports[exercise_id] = payload["json"]
    if client.output_size > client.max_output:
        result.notes.append(f"The notebook printed more than {limits.max_output_kb} KiB; the rest was dropped"
                            + (" and the cell that printed it was interrupted." if client.flooded else "."))
    for o in (o for c in nb.cells for o in c.get("outputs", [])):
        if o.get("output_type") == "error" and DENIED_MARK in str(o.get("evalue", "")):
            result.denied.append(str(o.get("evalue"))[:MAX_MESSAGE])
    return result


# ---------------------------------------------------------------------------------------------
# Judging (in the grader's process only)
# ---------------------------------------------------------------------------------------------

@dataclass
class ExerciseResult:
    """The grade of one exercise for one submission."""

    exercise: str
    points: float
    max_points: float
    passed: bool
    message: str
    details: list[str] = field(default_factory=list)   # e.g. explanations of wrong quiz answers


@dataclass
class SubmissionResult:
    """Everything the grader knows about one submission."""

    student: str
    path: str
    chapter: str | None
    score: float = 0.0
    max_score: float = 0.0
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)       # shown to the student
    internal: list[str] = field(default_factory=list)    # instructor only (grades.json)
    seconds: float = 0.0

    @property
    def percent(self) -> float:
        """Score as a percentage (0 when nothing could be graded)."""
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


def judge_exercise(chapter: HiddenChapter, exercise_id: str, raw: str | None, run: RunResult,
                   present: bool, max_chars: int) -> tuple[Verdict, str | None]:
    """The verdict of one exercise, and an instructor-only note; never raises."""
    if not present:
        return Verdict(False, "Not graded: the exercise cell is missing or was not run (see the notes)."), None
    if exercise_id in run.timed_out:
        return Verdict(False, "Your code did not finish on the hidden inputs within the time limit "
                              "(an infinite loop, or far too slow)."), None
    if raw is None:
        why = run.stopped or "the notebook stopped before this exercise was checked"
        return Verdict(False, f"Not graded: {why}"[:MAX_MESSAGE]), None
    try:
        exported = decode(raw, max_chars)
    except ValueError as err:
        return Verdict(False, f"Your answer could not be read back: {err}."), None
    if not isinstance(exported, dict) or ("value" in exported) == ("error" in exported):
        return Verdict(False, "Your answer could not be read back: malformed export."), None
    if "error" in exported:
        msg = str(exported["error"])[:MAX_MESSAGE]
        return Verdict(False, f"The hidden check could not run your code: {msg}"), None
    try:
        try:
            verdict = chapter.judges[exercise_id](exported["value"], copy.deepcopy(chapter.references[exercise_id]))
        except CheckFailed as stop:  # a judge may stop at the first problem with fail(...)
            verdict = stop.verdict
        if not isinstance(verdict, Verdict):
            raise TypeError(f"judge returned {type(verdict).__name__}, not a Verdict")
    except Exception as err:
        internal = f"{exercise_id}: judge raised {type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
        return Verdict(False, "Your answer has an unexpected form (type or structure) that the hidden "
                              "check could not read; compare it with the exercise's instructions."), internal
    details = tuple(str(d) for d in verdict.details)  # written by the instructor's judge, not by the student
    return Verdict(verdict.passed, str(verdict.message)[:2 * MAX_MESSAGE], verdict.score, details), None


def judge_submission(sub: Submission, chapter: HiddenChapter, plan: Plan, run: RunResult,
                     limits: Limits) -> SubmissionResult:
    """Judge every exercise of a submission that ran."""
    res = SubmissionResult(sub.student, str(sub.path), chapter.chapter, max_score=chapter.max_points,
                           seconds=run.seconds)
    res.notes = plan.notes + run.notes + ([run.stopped] if run.stopped else [])
    if run.denied:
        res.notes.append("The notebook tried to access the grader's files or run forbidden operations; "
                         "this was blocked and reported to the instructor.")
        res.internal += [f"blocked: {d}" for d in run.denied]
    for exercise_id in chapter.ids:
        verdict, internal = judge_exercise(chapter, exercise_id, run.exports.get(exercise_id), run,
                                           exercise_id in plan.present, limits.max_export_kb * 1024)
        if internal:
            res.internal.append(internal)
        pts = chapter.points[exercise_id]
        res.exercises.append(ExerciseResult(exercise_id, round(pts * verdict.fraction, 4), pts,
                                            verdict.passed, verdict.message, list(verdict.details)))
    res.score = round(sum(e.points for e in res.exercises), 4)
    return res


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------

def feedback_markdown(res: SubmissionResult) -> str:
    """The student's feedback: total, one line per exercise, notes; no hidden code or values."""
    lines = [f"# Feedback for {res.student}", "",
             f"Notebook: `{Path(res.path).name}`" + (f" (chapter {res.chapter})" if res.chapter else ""), "",
             f"**Score: {res.score:g} / {res.max_score:g} ({res.percent:.0f}%)**", ""]
    if res.exercises:
        lines += ["| Exercise | Points | Verdict |", "|---|---|---|"]
        for e in res.exercises:
            mark = "\u2705" if e.passed else "\u274c"
            msg = e.message.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {e.exercise} | {e.points:g} / {e.max_points:g} | {mark} {msg} |")
        lines.append("")
    reviewed = [e for e in res.exercises if e.details]
    if reviewed:
        lines += ["## What to review", ""]
        for e in reviewed:
            lines += [f"### {e.exercise}", ""] + [f"- {d}" for d in e.details] + [""]
    if res.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in res.notes] + [""]
    return "\n".join(lines)


def feedback_html(res: SubmissionResult) -> str:
    """The same feedback as a standalone HTML page."""
    rows = "".join(f"<tr><td>{html.escape(e.exercise)}</td><td>{e.points:g} / {e.max_points:g}</td>"
                   f"<td>{'&#x2705;' if e.passed else '&#x274c;'} {html.escape(e.message)}</td></tr>"
                   for e in res.exercises)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in res.notes)
    review = "".join(f"<h3>{html.escape(e.exercise)}</h3><ul>"
                     + "".join(f"<li>{html.escape(d.replace('**', ''))}</li>" for d in e.details) + "</ul>"
                     for e in res.exercises if e.details)
    return (f"<!doctype html><meta charset='utf-8'><title>Feedback for {html.escape(res.student)}</title>"
            f"<h1>Feedback for {html.escape(res.student)}</h1><p>Notebook: <code>{html.escape(Path(res.path).name)}"
            f"</code></p><p><b>Score: {res.score:g} / {res.max_score:g} ({res.percent:.0f}%)</b></p>"
            f"<table border='1'><tr><th>Exercise</th><th>Points</th><th>Verdict</th></tr>{rows}</table>"
            + (f"<h2>What to review</h2>{review}" if review else "")
            + (f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""))


def write_reports(results: list[SubmissionResult], out: Path, fmt: str, tree_changed: bool) -> None:
    """grades.csv, grades.json and one feedback file per submission."""
    out.mkdir(parents=True, exist_ok=True)
    fb = out / "feedback"
    fb.mkdir(exist_ok=True)
    ids: list[str] = []
    for r in results:
        ids += [e.exercise for e in r.exercises if e.exercise not in ids]
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "chapter", "score", "max_score", "percent", *ids, "notes"])
        for r in results:
            pts = {e.exercise: e.points for e in r.exercises}
            w.writerow([r.student, r.path, r.chapter or "", f"{r.score:g}", f"{r.max_score:g}",
                        f"{r.percent:.1f}", *[f"{pts[i]:g}" if i in pts else "" for i in ids],
                        " | ".join(r.notes)])
    payload = {"tree_changed_during_grading": tree_changed,
               "submissions": [{**asdict(r), "percent": r.percent} for r in results]}
    (out / "grades.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    for r in results:
        if fmt == "html":
            (fb / f"{r.student}.html").write_text(feedback_html(r), encoding="utf-8")
        else:
            (fb / f"{r.student}.md").write_text(feedback_markdown(r), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------------

def _package_dir() -> str:
    """The installed course_utils package folder (read-only for kernels)."""
    return str(Path(__file__).resolve().parent)


def _check_paths(settings: Settings) -> None:
    """Refuse settings that would let kernels touch the grader or block their own imports."""
    pkg = Path(_package_dir())
    for name, p in (("--instructor", settings.instructor), ("--out", settings.out)):
        rp = p.resolve()
        if pkg == rp or rp in pkg.parents or Path(sys.prefix).resolve() in [rp, *rp.parents] \
                or rp in Path(sys.prefix).resolve().parents:
            raise GraderError(f"{name} {p} contains the Python installation or course_utils; use a separate folder.")
    sub = settings.submissions.resolve()
    if settings.instructor.resolve() in [sub, *sub.parents]:
        raise GraderError("the submissions must not be inside the instructor tree")


async def _grade_all(subs: list[Submission], tree: InstructorTree, settings: Settings) -> list[SubmissionResult]:
    """Plan, run (in parallel) and judge every submission."""
    plans = [plan_submission(s.path.read_bytes() if s.path.is_file() else b"", tree, settings.chapter) for s in subs]
    for p in plans:
        if p.fatal is None and p.chapter is not None:
            ensure_references(tree.chapters[p.chapter])
    base = Path(tempfile.mkdtemp(prefix="course-grade-"))
    workdirs = [base / f"s{k}" for k in range(len(subs))]
    for w in workdirs:
        w.mkdir()
    out = str(settings.out.resolve())
    originals = [str(s.path.resolve()) for s in subs]
    sem = asyncio.Semaphore(max(1, settings.jobs))

    async def one(k: int) -> SubmissionResult:
        sub, plan = subs[k], plans[k]
        if plan.fatal is not None or plan.chapter is None:
            return SubmissionResult(sub.student, str(sub.path), plan.chapter, notes=[plan.fatal or "Not graded."])
        chapter = tree.chapters[plan.chapter]
        others = [str(w.resolve()) for j, w in enumerate(workdirs) if j != k]
        guard = guard_cell_source([str(tree.root), out, *originals, *others], [_package_dir()],
                                  str((base / f"guard-{k}.log").resolve()))
        exports = export_cells_source(chapter, [i for i in chapter.ids if i in plan.present],
                                      settings.limits.max_export_kb * 1024)
        env = _kernel_env([str(tree.root), out])
        async with sem:
            run = await run_submission(plan.cells, exports, workdirs[k], guard, settings.limits, env)
        log = base / f"guard-{k}.log"
        if log.is_file():
            run.denied += [line for line in log.read_text(errors="replace").splitlines() if line][:20]
        return judge_submission(sub, chapter, plan, run, settings.limits)

    try:
        return list(await asyncio.gather(*(one(k) for k in range(len(subs)))))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def grade(settings: Settings) -> list[SubmissionResult]:
    """Grade every submission and write the reports; raises GraderError on misuse."""
    tree = load_instructor_tree(settings.instructor)
    _check_paths(settings)
    subs = find_submissions(settings.submissions)
    if not subs:
        raise GraderError(f"no .ipynb files under {settings.submissions}")
    results = asyncio.run(_grade_all(subs, tree, settings))
    changed = tree_digest(tree.root) != tree.digest
    if changed:
        for r in results:
            r.internal.append("The instructor tree changed on disk during grading (grades used the copy "
                              "loaded before any notebook ran).")
    write_reports(results, settings.out, settings.feedback_format, changed)
    return results


def parse_args(argv: list[str] | None) -> Settings:
    """Command-line options -> Settings."""
    p = argparse.ArgumentParser(prog="course-grade", description="Grade course notebooks with the hidden checks.")
    p.add_argument("submissions", type=Path, help="a notebook, or a folder of notebooks (one per student or per folder)")
    p.add_argument("--instructor", type=Path, required=True, help="the hidden tree (instructor/, with chNN/checks.py)")
    p.add_argument("--out", type=Path, default=Path("grades"), help="output folder (default: ./grades)")
    p.add_argument("--chapter", help="expected chapter, e.g. ch00 (other chapters' notebooks score 0)")
    p.add_argument("--jobs", type=int, default=2, help="submissions run in parallel (default 2)")
    p.add_argument("--cell-timeout", type=float, default=Limits.cell_timeout, help="seconds per cell")
    p.add_argument("--notebook-timeout", type=float, default=Limits.notebook_timeout, help="seconds per notebook")
    p.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="kernel memory limit in MB")
    p.add_argument("--max-output-kb", type=int, default=Limits.max_output_kb, help="output kept per notebook")
    p.add_argument("--feedback", choices=["md", "html"], default="md", help="feedback format")
    a = p.parse_args(argv)
    limits = Limits(a.cell_timeout, a.notebook_timeout, a.memory_mb, a.max_output_kb)
    return Settings(a.submissions, a.instructor, a.out, a.chapter, a.jobs, limits, a.feedback)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 when the batch was graded (failing submissions included), 2 on misuse."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # reference exports may import TensorFlow
    try:
        settings = parse_args(argv)
        results = grade(settings)
    except GraderError as err:
        print(f"course-grade: error: {err}", file=sys.stderr)
        return 2
    for r in results:
        print(f"{r.student:24s} {r.chapter or '-':6s} {r.score:6g} / {r.max_score:<4g} {r.percent:5.1f}%"
              + (f"  ({len(r.notes)} note{'s' if len(r.notes) != 1 else ''})" if r.notes else ""))
    print(f"Wrote {settings.out / 'grades.csv'}, grades.json and feedback/ for {len(results)} submission(s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
