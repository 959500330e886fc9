"""Code that runs inside the student's kernel: the guard cell and the export cells.

The functions here are shipped as source (``inspect.getsource``) and run in the untrusted
kernel, so they use no module-level name: everything they need comes in as an argument,
and every import happens inside them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from course_utils.grading.codec import encode_default
from course_utils.grading.hidden import HiddenChapter
from course_utils.grading.types import DENIED_MARK, EXPORT_MIME, MAX_MESSAGE


def _guard(no_access, read_only, log_path, denied_mark):
    """Kernel side: an audit hook that denies access to the hidden tree and the grader's files.

    Bytecode writing is turned off first: importing a course module whose ``.pyc`` is missing or
    stale makes Python try to write one into the read-only package, which the hook would refuse and
    log, accusing every honest notebook of a forbidden operation.
    """
    import os
    import pathlib
    import sys

    sys.dont_write_bytecode = True

    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    realpath, fsdecode, write = os.path.realpath, os.fsdecode, os.write
    path_types = (str, bytes, pathlib.PosixPath, pathlib.PurePosixPath)
    no_access = tuple(no_access) + (log_path,)
    read_only = tuple(read_only)
    file_events = {
        "open": (0,),
        "os.listdir": (0,),
        "os.scandir": (0,),
        "os.remove": (0,),
        "os.rmdir": (0,),
        "os.rename": (0, 1),
        "shutil.rmtree": (0,),
        "os.chmod": (0,),
        "os.chown": (0,),
        "os.mkdir": (0,),
        "os.symlink": (0, 1),
        "os.link": (0, 1),
        "os.truncate": (0,),
        "os.utime": (0,),
        "os.chdir": (0,),
        "glob.glob": (0,),
        "shutil.copyfile": (0, 1),
        "shutil.copytree": (0, 1),
        "shutil.move": (0, 1),
        "os.chflags": (0,),
        "os.setxattr": (0,),
        "os.removexattr": (0,),
    }
    writing = {
        "os.remove",
        "os.rmdir",
        "os.rename",
        "shutil.rmtree",
        "os.chmod",
        "os.chown",
        "os.mkdir",
        "os.symlink",
        "os.link",
        "os.truncate",
        "os.utime",
        "shutil.move",
        "os.chflags",
        "os.setxattr",
        "os.removexattr",
    }
    always = {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "pty.spawn",
        "os.kill",
        "os.killpg",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "socket.connect",
        "socket.sendto",
        "sys.remote_exec",
        "ctypes.dlsym",
        "ctypes.cdata",
        "ctypes.call_function",
    }
    wflags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def deny(event, what):
        write(fd, f"{event} {what}\n".encode("utf-8", "replace"))
        raise PermissionError(f"{denied_mark}: {event} {what} is not allowed while grading")

    def inside(path, roots):
        return any(path == r or path.startswith(r + "/") for r in roots)

    own_pid = os.getpid()

    def hook(event, args):
        if event in ("os.kill", "os.killpg") and args and args[0] in (own_pid, os.getpgid(own_pid)):
            return  # the kernel interrupting itself (an interrupt request from the grader)
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
                if (
                    event in writing
                    or (isinstance(mode, str) and any(m in mode for m in "wax+"))
                    or (event == "open" and mode is None and flags & wflags)
                ):
                    deny(event, path)

    sys.addaudithook(hook)


def _cap_output(max_chars, max_display_chars):
    """Kernel side: stop a cell that prints more than max_chars, inside the kernel and at once.

    The grader also drops excess output and interrupts the cell, but an interrupt takes a while to
    arrive, and meanwhile a print loop fills the kernel's output buffer (gigabytes in seconds).
    Once over the limit, writes are dropped and raise, so catching the error gains nothing.
    IPython wraps each stream's ``write`` afresh for every cell (to keep output history), so the
    cap wraps it again at the start of every cell, from a ``pre_execute`` event.
    """
    import sys

    from IPython import get_ipython

    written = [0]

    def capped(write):
        def capped_write(text, *args, **kwargs):
            written[0] += len(text)
            if written[0] > max_chars:
                raise OSError(f"this cell printed more than {max_chars // 1024} KiB; it was interrupted")
            return write(text, *args, **kwargs)

        return capped_write

    def before_each_cell():
        written[0] = 0
        for stream in (sys.stdout, sys.stderr):
            stream.write = capped(stream.write)

    shell = get_ipython()
    shell.events.register("pre_execute", before_each_cell)
    publish = shell.display_pub.publish

    def capped_publish(data, *args, **kwargs):
        # one display larger than the grader accepts would be dropped unread, with the messages after it
        size = sum(len(str(v)) for v in data.values()) if isinstance(data, dict) else len(str(data))
        if size > max_display_chars:
            raise OSError(f"this cell displayed more than {max_display_chars // 1024} KiB at once; it was refused")
        return publish(data, *args, **kwargs)

    shell.display_pub.publish = capped_publish


def guard_cell_source(
    no_access: Iterable[str],
    read_only: Iterable[str],
    log_path: str,
    max_output_chars: int = 256 * 1024,
    max_display_chars: int = 8 * 1024 * 1024,
) -> str:
    """Source of the first cell: the audit hook (which cannot be removed) and the output caps."""
    return (
        inspect.getsource(_guard) + f"\n_guard({tuple(no_access)!r}, {tuple(read_only)!r}, {log_path!r}, "
        f"{DENIED_MARK!r})\ndel _guard\n"
        + inspect.getsource(_cap_output)
        + f"\n_cap_output({int(max_output_chars)}, {int(max_display_chars)})\ndel _cap_output\n"
    )


def _block_frameworks(tops, roots, why):
    """Kernel side, the NumPy-only kernel: no framework can be imported, whatever the notebook does.

    ``import keras`` (or any module of ``tops``) succeeds but gives a module that raises
    ``ModuleNotFoundError`` on every use, so that an honest cell that imports Keras without using
    it in a NumPy exercise still defines its function. An audit hook, which cannot be removed,
    refuses to import a framework past this blocker (a notebook that takes it out of
    ``sys.meta_path``) and to open any file in the frameworks' folders (a patched blocker, a loader
    of the notebook's own); in the sandbox those folders are also empty.
    """
    import importlib.abc
    import importlib.machinery
    import os
    import sys
    import types

    tops = frozenset(tops)
    roots = tuple(roots)
    realpath, fsdecode, fspath = os.path.realpath, os.fsdecode, os.fspath

    class Unavailable(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__") and name.endswith("__"):
                raise AttributeError(name)
            raise ModuleNotFoundError(f"{self.__name__.split('.')[0]} {why}")

    class Blocker(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name.split(".", 1)[0] in tops:
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            return Unavailable(spec.name)

        def exec_module(self, module):
            pass

    blocker = Blocker()
    for name in [n for n in sys.modules if n.split(".", 1)[0] in tops]:
        del sys.modules[name]
    sys.meta_path.insert(0, blocker)

    def hook(event, args):
        if event == "import" and args and isinstance(args[0], str) and args[0].split(".", 1)[0] in tops:
            meta_path = args[3] if len(args) > 3 else None
            if not meta_path or meta_path[0] is not blocker:
                raise ModuleNotFoundError(f"{args[0].split('.', 1)[0]} {why}")
        elif event == "open" and roots and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = realpath(fsdecode(fspath(args[0])))
            if any(path.startswith(r) for r in roots):
                raise ModuleNotFoundError(f"{path} cannot be opened: the frameworks {why}")

    sys.addaudithook(hook)

    # An honest cell may use a framework at its top level before it defines the exercise's function
    # (a seed, a layer for later): each top-level statement that fails for want of a framework is
    # skipped, so that the rest of the cell still runs. Function bodies are untouched.
    import ast

    from IPython import get_ipython

    class SkipUnavailable(ast.NodeTransformer):
        def visit_Module(self, node):
            def guarded(stmt):
                handler = ast.ExceptHandler(
                    type=ast.Name("ModuleNotFoundError", ast.Load()), name=None, body=[ast.Pass()]
                )
                return ast.Try(body=[stmt], handlers=[handler], orelse=[], finalbody=[])

            future = [s for s in node.body if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
            node.body = future + [guarded(stmt) for stmt in node.body if stmt not in future]
            return ast.fix_missing_locations(node)

    shell = get_ipython()
    if shell is not None:
        shell.ast_transformers.append(SkipUnavailable())


NOT_AVAILABLE = (
    "is not available: this exercise is graded again in a kernel where Keras, TensorFlow and the "
    "other frameworks cannot be imported, since it asks for NumPy only"
)


def framework_blocker_source(tops: Iterable[str], roots: Iterable[str]) -> str:
    """Source that makes the frameworks ``tops`` (their folders ``roots``) impossible to import."""
    return (
        inspect.getsource(_block_frameworks)
        + f"\n_block_frameworks({tuple(tops)!r}, {tuple(roots)!r}, {NOT_AVAILABLE!r})\ndel _block_frameworks\n"
    )


def _export_one(exercise_id, source, max_chars, max_message, mime, encode_default):
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
    except BaseException as err:
        text = json.dumps({"error": f"{type(err).__name__}: {err}"[:max_message]})
    if len(text) > max_chars:
        text = json.dumps({"error": f"the values to check are too large ({len(text) // 1024} KiB)"})
    display({mime: {"id": exercise_id, "json": text}}, raw=True)


def export_cells_source(chapter: HiddenChapter, ids: Iterable[str], max_chars: int) -> list[tuple[str, str]]:
    """(id, source) of the export cells: the helper definitions go with each one."""
    helpers = inspect.getsource(encode_default) + "\n" + inspect.getsource(_export_one)
    cells = []
    for exercise_id in ids:
        source = chapter.prelude + "\n" + chapter.exports[exercise_id]
        cells.append(
            (
                exercise_id,
                f"{helpers}\n_export_one({exercise_id!r}, {source!r}, {max_chars}, "
                f"{MAX_MESSAGE}, {EXPORT_MIME!r}, encode_default)\n"
                "del _export_one, encode_default\n",
            )
        )
    return cells
