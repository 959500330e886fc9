"""The leak scan: does anything a student receives contain a piece of a reference solution?

Text comparison misses the usual ways a solution ends up on a page: renamed variables, another
docstring, new comments, other line breaks. So code is compared by structure: every chunk of
Python in the scanned files (a notebook cell, a code block of a page, a ``<pre>`` block of the
built HTML, a module of the package) is parsed, docstrings are dropped, and every name is
replaced by its order of first appearance (``x - lr * grad`` and ``p - eta * g`` both become
``_0 - _1 * _2``). Comments vanish with parsing. A solution leaks when one of its functions, or
one of its statements or expressions of at least :data:`MIN_NODES` nodes, appears in that form.

Pieces of a solution that the exercise itself hands out (its stub, or the buggy code of a
*diagnose* exercise, in cells tagged ``{"course": {"given": id}}``) are not secret and are not
searched for. Quiz keys are searched as ``'q1': 'B'`` patterns, and quiz explanations as text.
"""

from __future__ import annotations

import ast
import copy
import html
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_NODES = 12  # smaller statements and expressions (`x - lr * grad`) are too common to be evidence
SUFFIXES = {".py", ".ipynb", ".md", ".html", ".txt", ".json", ".js", ".cfg", ".toml", ".yml", ".yaml", ""}


class _Canonical(ast.NodeTransformer):
    """Names -> _0, _1, ... in order of first appearance; docstrings dropped."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _name(self, name: str) -> str:
        return self.names.setdefault(name, f"_{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id=self._name(node.id), ctx=ast.Load()), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg, node.annotation = self._name(node.arg), None
        return node

    def _body(self, node: ast.AST) -> ast.AST:
        body = getattr(node, "body", None)
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name, node.returns = self._name(node.name), None
        node.decorator_list = []
        self._body(node)
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = self._name(node.name)
        self._body(node)
        self.generic_visit(node)
        return node


def canonical(node: ast.AST) -> str:
    """The structure of a piece of code, independent of names, docstrings, comments and layout."""
    return ast.dump(_Canonical().visit(copy.deepcopy(node)), annotate_fields=False, include_attributes=False)


def size(node: ast.AST) -> int:
    """Number of nodes, not counting the load/store markers."""
    return sum(1 for n in ast.walk(node) if not isinstance(n, ast.expr_context))


def pieces(source: str) -> Iterator[tuple[str, ast.AST]]:
    """('function', node) for every function and ('code', node) for every large statement or expression."""
    tree = parse(source)
    if tree is None:
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield "function", node
        elif isinstance(node, (ast.stmt, ast.expr)) and size(node) >= MIN_NODES:
            yield "code", node


def parse(source: str) -> ast.Module | None:
    """The AST of a chunk of Python, IPython magics dropped; None if it is not Python."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def fingerprints(source: str) -> set[str]:
    """The canonical forms of every piece of a source."""
    return {canonical(node) for _, node in pieces(source)}


@dataclass(frozen=True)
class Marker:
    """Something secret: where it comes from, and its canonical form or its text."""

    what: str
    form: str


def solution_markers(exercise_id: str, solution: str, given: Iterable[str] = ()) -> list[Marker]:
    """The pieces of a reference solution that the exercise does not hand out itself."""
    public: set[str] = set()
    for source in given:
        public |= fingerprints(source)
    markers, seen = [], set()
    for kind, node in pieces(solution):
        form = canonical(node)
        if form in public or form in seen:
            continue
        seen.add(form)
        first_line = ast.unparse(node).splitlines()[0][:60]
        markers.append(Marker(f"{exercise_id}: {kind} `{first_line}`", form))
    return markers


def code_chunks(path: Path) -> list[str]:
    """The chunks of Python a file shows: cells, code blocks, <pre> blocks, or the whole module."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        return [text]
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except json.JSONDecodeError:
            return []
        out = []
        for cell in cells:
            source = cell.get("source", "")
            out.append("".join(source) if isinstance(source, list) else str(source))
            for output in cell.get("outputs", []):  # printed code counts too
                data = output.get("data", {})
                out.append("".join(output.get("text", "")) + "".join(data.get("text/plain", "")))
        # markdown cells may hold fenced code
        return out + [block for chunk in out for block in _fenced(chunk)]
    if path.suffix == ".md":
        return [text] + _fenced(text)
    if path.suffix == ".html":
        blocks = re.findall(r"<pre[^>]*>(.*?)</pre>", text, flags=re.S)
        return [html.unescape(re.sub(r"<[^>]+>", "", b)) for b in blocks]
    return [text]


def _fenced(text: str) -> list[str]:
    return re.findall(r"^\s*(?:```|~~~)[^\n]*\n(.*?)^\s*(?:```|~~~)", text, flags=re.S | re.M)


def plain_text(path: Path) -> str:
    """A file's text with whitespace collapsed; HTML without tags and entities."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".html":
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    if path.suffix == ".ipynb":
        text = text.replace("\\n", "\n").replace('\\"', '"')
    return normalize(text)


def normalize(text: str) -> str:
    """Whitespace collapsed, so reformatted copies of a text still match."""
    return re.sub(r"\s+", " ", text).strip()


def files_under(folder: Path) -> list[Path]:
    """Text-like files under a folder."""
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES and "__pycache__" not in p.parts]


def scan(
    files: Iterable[Path],
    markers: list[Marker],
    quiz_patterns: list[tuple[str, list[re.Pattern[str]]]],
    texts: list[Marker],
) -> list[str]:
    """Every leak found in the files: code by structure, quiz keys by pattern, texts verbatim."""
    forms = {m.form: m.what for m in markers}
    leaks = []
    for path in files:
        found: set[str] = set()
        for chunk in code_chunks(path):
            found |= {forms[f] for f in fingerprints(chunk) if f in forms}
        leaks += [f"{path}: {what}" for what in sorted(found)]
        text = plain_text(path)
        leaks += [
            f"{path}: answers of {quiz}" for quiz, patterns in quiz_patterns if all(p.search(text) for p in patterns)
        ]
        leaks += [f"{path}: {m.what}" for m in texts if normalize(m.form) in text]
    return leaks
