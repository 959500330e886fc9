"""What students read: messages without the grader's internals, cells named as the student sees them.

Every line of feedback that carries text from a kernel (an exception's message, a hidden check's
error) passes through here, in the grader's process: IPython's internal file names are replaced,
and a message that quotes the code of a hidden check is withheld.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable

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
