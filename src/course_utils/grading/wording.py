"""What students read: messages without the grader's internals, cells named as the student sees them.

Every line of feedback that carries text from a kernel (an exception's message, a hidden check's
error) passes through here, in the grader's process: IPython's internal file names are replaced,
and a message that quotes the code of a hidden check is withheld.
"""

from __future__ import annotations

import builtins
import io
import re
import tokenize
from collections.abc import Iterable
from typing import Any

# ipykernel compiles each cell under a name such as /tmp/ipykernel_123/2714562179.py, which means
# nothing to a student; SyntaxError shows only its last part: "invalid syntax (2714562179.py, line 3)".
_CELL_FILE = re.compile(r"(?:/[^\s'\"()]*?/)?(?:ipykernel_\d+/)?\b\d{5,}\.py\b")
_CELL_LINE = re.compile(r"\(\s*\d{5,}\.py, line (\d+)\)")
_IPYTHON_INPUT = re.compile(r"<ipython-input-[\w-]+>")
WITHHELD = "Your code failed with a message that quotes the hidden check's code, so the message is withheld."
MIN_QUOTE = 16  # characters of hidden code (outside string literals) that count as a quote


def scrub(text: str) -> str:
    """A kernel's message with IPython's internal cell file names replaced by words."""
    text = _CELL_LINE.sub(r"(line \1 of the cell)", text)
    text = _IPYTHON_INPUT.sub("the cell", text)
    return _CELL_FILE.sub("the cell", text)


def cell_label(position: int, exercise_id: str | None = None) -> str:
    """How feedback names a cell: its number among all the notebook's cells, and its exercise."""
    if exercise_id:
        return f"The exercise cell of {exercise_id} (cell {position} of the notebook)"
    return f"Cell {position} of the notebook"


def _normalized(text: str) -> str:
    """Whitespace collapsed, so that a quote re-indented or re-wrapped still matches."""
    return " ".join(text.split())


def code_fragments(sources: Iterable[str]) -> list[str]:
    """The pieces of hidden code between string literals and comments, long enough to be a quote.

    String literals are left out on purpose: a hidden check may build messages meant for students
    (they reach the feedback verbatim), but its code must not.
    """
    fragments: list[str] = []
    for source in sources:
        for line in source.splitlines():
            try:
                tokens = list(tokenize.generate_tokens(io.StringIO(line + "\n").readline))
            except (tokenize.TokenError, SyntaxError, IndentationError):
                tokens = []
            pieces, current = [], []
            for tok in tokens:
                if tok.type in (tokenize.STRING, tokenize.COMMENT) or tokenize.tok_name[tok.type].startswith("FSTRING"):
                    pieces.append(" ".join(current))
                    current = []
                elif tok.string.strip():
                    current.append(tok.string)
            pieces.append(" ".join(current))
            if not tokens:
                pieces = [line]
            fragments += [p for p in (_normalized(p) for p in pieces) if len(p.replace(" ", "")) >= MIN_QUOTE]
    return sorted(set(fragments))


def _compact(text: str) -> str:
    """Text without any whitespace: code is compared token by token, however it was spaced."""
    return "".join(text.split())


def withhold_quotes(text: str, fragments: Iterable[str]) -> str:
    """The message, or a notice in its place when it contains a fragment of hidden code."""
    compact = _compact(text)
    if any(_compact(f) in compact for f in fragments):
        return WITHHELD
    return text


# Exception types whose name feedback may show: Python's own and NumPy's. A class of the student's own
# could carry anything in its name.
KNOWN_ERRORS = frozenset(
    name for name, obj in vars(builtins).items() if isinstance(obj, type) and issubclass(obj, BaseException)
) | {"LinAlgError", "AxisError", "ComplexWarning", "DTypePromotionError"}
MAX_ERROR = 120  # characters of an exception's message that feedback shows, once cleaned
_ERROR = re.compile(r"\s*([A-Za-z_][\w.]*)\s*:\s*(.*)\Z", re.S)
_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|\b(?:nan|inf)\b", re.I)
_BRACKETS = re.compile(r"\[[^\[\]]*\]")


def _clean(message: str) -> str:
    """A message without arrays, numbers, long tokens or odd characters, cut to MAX_ERROR characters."""
    text = "".join(ch if ch.isascii() and ch.isprintable() else " " for ch in message)
    previous = None
    while previous != text:  # nested brackets, innermost first
        previous, text = text, _BRACKETS.sub("[...]", text)
    if "[" in text:  # an array cut short: everything after its bracket
        text = text[: text.index("[")] + "[...]"
    text = _NUMBER.sub("#", text)
    text = re.sub(r"#(?:[\s,;.#-]*#)+", "#", text)  # a run of numbers is one number
    words = [w if len(w) <= 24 else "..." for w in text.split()]
    text = " ".join(words)
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3].rstrip() + "..."


def safe_error(text: Any) -> str:
    """A student's error message as feedback may show it: it cannot carry the hidden inputs verbatim.

    A function called on hidden inputs can raise an exception whose message holds them (or writes
    them into a class name). Feedback keeps the exception's type when it is Python's or NumPy's
    ("an exception of its own class" otherwise) and a message without numbers, arrays or long
    tokens, cut to ``MAX_ERROR`` characters: enough to say "shapes (#,#) and (#,) could not be
    broadcast", not enough to copy an input. The visible check shows the full message on public
    inputs.
    """
    text = str(text)
    match = _ERROR.match(text)
    if match is None:
        return _clean(text)
    name, message = match.group(1), match.group(2)
    short = name.rsplit(".", 1)[-1]
    kind = short if short in KNOWN_ERRORS else "an exception of its own class"
    message = _clean(message)
    return f"{kind}: {message}" if message else kind


def strings_of(value: Any) -> list[str]:
    """Every string in a decoded export (the student's data), longest first."""
    found: list[str] = []
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif level < 30 and isinstance(item, dict):
            stack += [(v, level + 1) for v in item.values()] + [(k, level + 1) for k in item]
        elif level < 30 and isinstance(item, (list, tuple)):
            stack += [(v, level + 1) for v in item]
    return sorted(set(found), key=len, reverse=True)


def quote_safely(text: str, export: Any, shortest: int = 8) -> str:
    """A judge's message with every string of the student's export it quotes made safe (``safe_error``).

    Judges quote the errors a snippet recorded (``f"... failed: {student['error']}"``); the export is
    the student's data, so whatever it quotes is cleaned here, in one place, whichever judge wrote it
    (a quote cut to its first characters included).
    """
    for s in strings_of(export):
        if len(s) < shortest:
            continue
        if s in text:
            text = text.replace(s, safe_error(s))
            continue
        for cut in (300, 250, 200, 160, 120, 100, 80, 60, 40, 24):
            if cut < len(s) and s[:cut] in text:
                text = text.replace(s[:cut], safe_error(s[:cut]))
                break
    return text
