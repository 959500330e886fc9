"""Where a chapter's saved outputs came from: a stamp written when the notebook is executed.

The book renders the outputs saved in each notebook instead of executing every chapter again at
every build (CI executes each notebook once, under nbval). That is only honest if the saved outputs
come from a complete, in-order run of the current code. So the command that executes the chapters
(`make execute`) writes a stamp into each notebook's metadata, and a test recomputes it:

- the digest of the notebook's code cells (their sources, in order),
- the digest of the modules of ``course_utils`` the notebook imports (directly or through each
  other), and of ``requirements.txt`` (the pinned TensorFlow, Keras and the rest),
- the digest of the saved outputs themselves (edited or merged outputs no longer match),
- execution counts 1, 2, 3, ... on the (non-empty) code cells in order: one fresh kernel, top to
  bottom.

Any edit to a code cell, to a module it uses or to the pins makes the stamp stale, and the test says
which notebook to execute again. Editing prose (markdown cells) needs no new run.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STAMP_KEY = "execution"  # notebook metadata: {"course": {"execution": {...}}}


def _digest(chunks: Iterable[bytes]) -> str:
    sha = hashlib.sha256()
    for chunk in chunks:
        sha.update(len(chunk).to_bytes(8, "big"))  # length-prefixed: no two sequences collide
        sha.update(chunk)
    return sha.hexdigest()


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def code_digest(nb: dict[str, Any]) -> str:
    """SHA-256 of the sources of the notebook's code cells, in order (metadata and outputs ignored)."""
    return _digest(_source(c).encode() for c in nb["cells"] if c.get("cell_type") == "code")


def _joined(value: Any) -> Any:
    """A multi-line string as nbformat reads it, whether the file stored it as a list of lines or not."""
    return "".join(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value


def outputs_digest(nb: dict[str, Any]) -> str:
    """SHA-256 of every code cell's outputs, so that outputs edited or merged after the run show."""
    views = []
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            view = dict(output)
            if "text" in view:
                view["text"] = _joined(view["text"])
            if isinstance(view.get("data"), dict):
                view["data"] = {k: _joined(v) for k, v in view["data"].items()}
            views.append(view)
    return _digest(json.dumps(v, sort_keys=True, ensure_ascii=False).encode() for v in views)


def python_source(source: str) -> str:
    """A cell's source with IPython magics and shell lines replaced by ``pass`` (same indentation),
    so that ``ast`` can parse it."""
    return "\n".join(
        line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
        for line in source.splitlines()
    )


def _imports(source: str, package: str) -> set[str]:
    """Dotted names of the package's modules that a piece of code imports ('' for the package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(python_source(source))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name == package or name.startswith(package + ".")}
    return found


def _files_of(name: str, root: Path, chapters: Iterable[str] = ()) -> list[Path]:
    """The files behind a dotted module name: the __init__ files on the way and a module, or a
    subpackage's __init__ and its modules named after the notebook's chapters
    (``exercises/ch01.py``, which ``exercises`` imports by name when a check of ch01 runs)."""
    parts = name.split(".")[1:]
    # importing a.b.c runs the __init__ of a and of a.b first
    inits = [root.joinpath(*parts[:i], "__init__.py") for i in range(len(parts))]
    inits = [p for p in inits if p.is_file()]
    base = root.joinpath(*parts)
    if parts and base.with_suffix(".py").is_file():
        return [*inits, base.with_suffix(".py")]
    if parts and base.is_dir():
        own = [base / f"{c}.py" for c in chapters if (base / f"{c}.py").is_file()]
        return [*inits, base / "__init__.py", *own]
    return inits  # the package itself, or a name imported from a module (a function)


def imported_files(nb: dict[str, Any], package: Path) -> list[Path]:
    """The package's files a notebook runs: those it imports, and those they import, transitively.

    A notebook that cannot be parsed (a cell of another language) is taken to use the whole package.
    """
    name = package.name
    code = "\n".join(_source(c) for c in nb["cells"] if c.get("cell_type") == "code")
    # the notebook's chapter, and any chapter whose checks it calls: check("ch01b.stable-lr", ...)
    chapters = set(re.findall(r"""["'](ch\d+[a-z]?)\.[\w-]+["']""", code))
    chapters.add(str(nb.get("metadata", {}).get("course", {}).get("chapter", "")))
    chapters.discard("")
    try:
        wanted = set().union(*(_imports(_source(c), name) for c in nb["cells"] if c.get("cell_type") == "code"))
    except SyntaxError:
        return sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    files: set[Path] = {package / "__init__.py"}
    todo = [f for module in wanted for f in _files_of(module, package, chapters)]
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:  # from .runtime import ..., from . import x
                anchor = path.parent
                for _ in range(node.level - 1):
                    anchor = anchor.parent
                if not anchor.is_relative_to(package):
                    continue  # reaches above the package: not ours to hash
                module = [part for part in (node.module or "").split(".") if part]
                dotted = ".".join([name, *anchor.relative_to(package).parts, *module])
                targets = [dotted] + [f"{dotted}.{alias.name}" for alias in node.names]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                targets = sorted(_imports(ast.unparse(node), name))
            else:
                continue
            todo += [f for target in targets for f in _files_of(target, package, chapters)]
    return sorted(files)


def environment_digest(package: Path, requirements: Path | None, files: Iterable[Path] | None = None) -> str:
    """SHA-256 of package files (path and content; default: all) and of the pinned requirements."""
    if files is None:
        files = (p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    chunks = [p.relative_to(package).as_posix().encode() + b"\0" + p.read_bytes() for p in sorted(files)]
    if requirements is not None and requirements.is_file():
        chunks.append(b"requirements.txt\0" + requirements.read_bytes())
    return _digest(chunks)


def notebook_environment(nb: dict[str, Any], package: Path, requirements: Path | None) -> str:
    """The environment digest of one notebook: the modules it imports, and the pins."""
    return environment_digest(package, requirements, imported_files(nb, package))


def make_stamp(nb: dict[str, Any], environment: str, seconds: float, peak_mb: float) -> dict[str, Any]:
    """The stamp `make execute` writes after a complete run (time and memory for the statistics page)."""
    return {
        "code_sha256": code_digest(nb),
        "outputs_sha256": outputs_digest(nb),  # of the outputs as saved by that run
        "environment_sha256": environment,
        "seconds": round(float(seconds), 1),  # wall time of the whole notebook, kernel start included
        "peak_mb": round(float(peak_mb)),  # peak resident memory of the kernel and its children
    }


def stamp_problems(nb: dict[str, Any], environment: str) -> list[str]:
    """Why the saved outputs may not come from a complete run of the current code (empty: they do)."""
    stamp = nb.get("metadata", {}).get("course", {}).get(STAMP_KEY)
    if not isinstance(stamp, dict):
        return ["no execution stamp: the notebook was never executed with `make execute`"]
    problems = []
    if stamp.get("code_sha256") != code_digest(nb):
        problems.append("its code cells changed since the run that produced the saved outputs")
    if stamp.get("outputs_sha256") != outputs_digest(nb):
        problems.append("its saved outputs were changed after the run (edited, re-run in part or merged)")
    if stamp.get("environment_sha256") != environment:
        problems.append("a course_utils module it imports, or requirements.txt, changed since the run")
    counts = [c.get("execution_count") for c in nb["cells"] if c.get("cell_type") == "code" and _source(c).strip()]
    if counts != list(range(1, len(counts) + 1)):
        problems.append(f"the code cells did not run once each, in order, in one kernel: {counts[:12]}")
    return problems
