"""What a chapter installs where the course's environment is absent (Colab), and the release it pins.

Every chapter opens with a hidden install cell. In Colab it installs the course's helpers at the
version the chapter was executed with, raises Keras to the lowest version that reproduces the book,
and adds the few packages the chapter imports that Colab does not ship; it keeps the runtime's own
TensorFlow. Where everything is present (the course's virtual environment) it does nothing.

The cell is generated, never typed: from the repository address in ``_config.yml`` (its only home),
the version in ``course_utils.__version__``, the version floors in :mod:`course_utils.runtime` and
the chapter's own imports. ``python -m course_utils.release sync`` rewrites the cells;
``tests/test_release.py`` fails when a cell, the version, ``CHANGELOG.md`` or the release's
contents disagree.

The release a cell pins is the git tag ``v<version>``, made from the same commit as the published
book (``.github/workflows/pages.yml``). Until that tag exists the release is the working tree;
once it exists, any change to the package needs a new version (``python -m course_utils.release
check`` says so), so that a pinned version always names one set of files.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .provenance import python_source
from .runtime import VERSION_FLOORS

PACKAGE = "course_utils"  # the import name; the distribution is "course-utils"
DISTRIBUTION = "course-utils"
INSTALL_TAG = "colab-install"  # the cell tag that marks a chapter's install cell

# Modules a chapter may import that Colab's runtime does not ship: import name -> what pip installs.
EXTRA_REQUIREMENTS: dict[str, str] = {
    "keras_tuner": "keras-tuner>=1.4",
}


def repository_url(config_text: str) -> str:
    """The repository address of ``_config.yml`` (``repository: url:``), the one place it is written."""
    match = re.search(r"^repository:\s*\n(?:[ \t]+.*\n)*?[ \t]+url:\s*(\S+)", config_text, re.M)
    if match is None:
        raise ValueError("_config.yml has no `repository: url:` entry; the install cells need it")
    return match.group(1).rstrip("/")


def pinned_requirement(url: str, version: str) -> str:
    """pip's requirement for the helpers at the tag of ``version`` (``course-utils @ git+URL@vX``)."""
    return f"{DISTRIBUTION} @ git+{url}@v{version}"


def top_level_imports(source: str) -> set[str]:
    """The top-level module names a piece of code imports (``keras_tuner`` for ``import keras_tuner.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(python_source(source))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def install_cell_index(nb: dict[str, Any]) -> int | None:
    """The position (among all cells) of the cell tagged ``colab-install``, or None."""
    for i, cell in enumerate(nb["cells"]):
        if INSTALL_TAG in cell.get("metadata", {}).get("tags", []):
            return i
    return None


def chapter_code(nb: dict[str, Any]) -> str:
    """All of a chapter's code but its install cell, as one source."""
    skip = install_cell_index(nb)
    return "\n".join(_source(c) for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code" and i != skip)


def needs(nb: dict[str, Any], url: str, version: str) -> list[tuple[str, str, str]]:
    """What a chapter's install cell checks: (distribution, lowest version, what pip installs)."""
    imported = top_level_imports(chapter_code(nb))
    rows = [(DISTRIBUTION, version, pinned_requirement(url, version))]
    rows += [(name, floor, f"{name}>={floor}") for name, floor in VERSION_FLOORS.items() if name in imported]
    for module in sorted(imported & EXTRA_REQUIREMENTS.keys()):
        requirement = EXTRA_REQUIREMENTS[module]
        name, floor = re.fullmatch(r"([\w.-]+)>=([\d.]+)", requirement).groups()
        rows.append((name, floor, requirement))
    return rows


INSTALL_TEMPLATE = '''\
# In Colab (or any Jupyter without the course's helpers) this installs what the chapter
# needs beyond the runtime's own TensorFlow, which it keeps. Elsewhere it does nothing.
import importlib
import importlib.metadata
import re
import subprocess
import sys

NEEDS = [  # (package, lowest version, what pip installs)
{rows}
]


def installed_version(package):
    try:
        version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ()
    return tuple(int(n) for n in re.findall(r"\\d+", version)[:3])


missing = [pip_name for package, lowest, pip_name in NEEDS
           if installed_version(package) < tuple(int(n) for n in lowest.split("."))]
if missing:
    print("Installing", ", ".join(missing))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
    importlib.invalidate_caches()'''


def install_cell(rows: Iterable[tuple[str, str, str]]) -> str:
    """The source of an install cell for these needs (lines fit the book's 88 columns)."""
    lines = []
    for name, lowest, requirement in rows:
        one = f'    ("{name}", "{lowest}", "{requirement}"),'
        lines.append(one if len(one) <= 88 else f'    ("{name}", "{lowest}",\n     "{requirement}"),')
    return INSTALL_TEMPLATE.format(rows="\n".join(lines))


def expected_install_cell(nb: dict[str, Any], root: Path) -> str:
    """The install cell a chapter must hold, from ``_config.yml``, the version and its imports."""
    from . import __version__

    url = repository_url((root / "_config.yml").read_text(encoding="utf-8"))
    return install_cell(needs(nb, url, __version__))


def _lines(text: str) -> list[str]:
    """A cell source as nbformat stores it: a list of lines, each but the last with its newline."""
    return text.splitlines(keepends=True)


def sync_install_cells(paths: Iterable[Path], root: Path) -> list[Path]:
    """Rewrite each notebook's install cell to the generated one; return the notebooks changed.

    Only that cell's source changes (outputs and every other cell are kept byte for byte), and the
    file is written the way nbformat writes it (one-space indent, UTF-8, a final newline).
    """
    changed = []
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        index = install_cell_index(nb)
        if index is None:
            raise ValueError(f"{path.name}: no cell is tagged {INSTALL_TAG!r}")
        wanted = expected_install_cell(nb, root)
        if _source(nb["cells"][index]) != wanted:
            nb["cells"][index]["source"] = _lines(wanted)
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(path)
    return changed


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)


def tag_exists(root: Path, version: str) -> bool:
    """Whether the release tag ``v<version>`` exists in the repository at ``root``."""
    return _git(root, "rev-parse", "-q", "--verify", f"refs/tags/v{version}").returncode == 0


def release_sources(root: Path, version: str) -> dict[str, str]:
    """The release of ``version`` as {dotted module name: source}.

    From the tag ``v<version>`` where it exists; otherwise from the working tree, since the release
    will be made from this commit (and :func:`changed_since_release` keeps the two equal after).
    """
    prefix = f"src/{PACKAGE}/"
    if tag_exists(root, version):
        listing = _git(root, "ls-tree", "-r", "--name-only", f"v{version}", "--", prefix).stdout.splitlines()
        files = {f: _git(root, "show", f"v{version}:{f}").stdout for f in listing if f.endswith(".py")}
    else:
        paths = [p for p in (root / prefix).rglob("*.py") if "__pycache__" not in p.parts]
        files = {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in paths}
    sources = {}
    for file, text in files.items():
        parts = file[len("src/") : -len(".py")].split("/")
        sources[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = text
    return sources


def defined_names(source: str) -> set[str]:
    """The names a module defines at its top level (functions, classes, assignments, imports, and
    those its module-level ``__getattr__`` builds on first use)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            if node.name == "__getattr__":  # names built on first use (PEP 562) are named in it
                names |= {
                    n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and str(n.value).isidentifier()
                }
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def missing_modules(nb: dict[str, Any], sources: dict[str, str]) -> list[str]:
    """What a chapter imports from the package that the release would not contain: a module
    (``course_utils.x``) or a name in a module (``course_utils.x.f``).

    Exercise checks are imported by name when ``check("ch03.id", ...)`` runs, so such a call needs
    the module ``course_utils.exercises.ch03`` too.
    """
    missing: set[str] = set()
    code = chapter_code(nb)
    for node in ast.walk(ast.parse(python_source(code))):
        if isinstance(node, ast.Import):
            missing |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE and a.name not in sources}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == PACKAGE:
            if node.module not in sources:
                missing.add(node.module)
                continue
            names = defined_names(sources[node.module])
            missing |= {
                f"{node.module}.{a.name}"
                for a in node.names
                if a.name not in names and f"{node.module}.{a.name}" not in sources
            }
    for chapter in set(re.findall(r"""\bcheck\(\s*["'](ch\d+[a-z]?)\.""", code)):
        if f"{PACKAGE}.exercises.{chapter}" not in sources:
            missing.add(f"{PACKAGE}.exercises.{chapter}")
    return sorted(missing)


def changed_since_release(root: Path, version: str) -> list[str]:
    """Files of the package (and its build configuration) that differ from the tag ``v<version>``."""
    if not tag_exists(root, version):
        return []
    diff = _git(root, "diff", "--name-only", f"v{version}", "--", f"src/{PACKAGE}", "pyproject.toml")
    return [line for line in diff.stdout.splitlines() if line]


def changelog_has(changelog: str, version: str) -> bool:
    """Whether CHANGELOG.md has a section for ``version`` (a heading ``## <version>``)."""
    return re.search(rf"^## {re.escape(version)}\b", changelog, re.M) is not None


def main(argv: list[str] | None = None) -> int:
    """``sync``: rewrite the chapters' install cells; ``check``: may this commit be released?
    ``version``: print the version."""
    from . import __version__

    args = sys.argv[1:] if argv is None else argv
    root = Path.cwd()
    if args == ["version"]:
        print(__version__)
        return 0
    if args == ["sync"]:
        for path in sync_install_cells(sorted((root / "book").glob("ch*.ipynb")), root):
            print(f"rewrote the install cell of {path.relative_to(root)}")
        return 0
    if args == ["check"]:
        problems = []
        if not changelog_has((root / "CHANGELOG.md").read_text(encoding="utf-8"), __version__):
            problems.append(f"CHANGELOG.md has no section '## {__version__}'")
        changed = changed_since_release(root, __version__)
        if changed:
            problems.append(
                f"v{__version__} is already released and these files changed since: {', '.join(changed)}; "
                "raise __version__ in src/course_utils/__init__.py and add its CHANGELOG.md section"
            )
        for problem in problems:
            print(f"release: {problem}", file=sys.stderr)
        if not problems:
            state = "released already, unchanged" if tag_exists(root, __version__) else "not released yet"
            print(f"v{__version__}: {state}")
        return 1 if problems else 0
    print("usage: python -m course_utils.release {sync|check|version}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
