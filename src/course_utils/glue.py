"""Numbers and figures from a run, named so that the book's prose can quote them (every chapter).

The book is built with MyST-NB, whose ``{glue}`` roles and directives insert an output that a code
cell saved under a name. MyST-NB's own ``glue`` function records such an output, but importing it
needs the whole book-building stack, which Colab, a plain JupyterLab or VS Code do not have.
:func:`glue` writes the same record with IPython alone, so a chapter runs anywhere and still
renders as before in the book.

The record is the one MyST-NB (and scrapbook before it) reads: a ``display_data`` output whose
metadata holds ``{"scrapbook": {"name": ..., "mime_prefix": ...}}``. When the value is not to be
shown in the notebook, its MIME types carry the prefix ``application/papermill.record/`` so that
Jupyter front ends do not display them while the book still finds them.
"""

from __future__ import annotations

from typing import Any

HIDDEN_PREFIX = "application/papermill.record/"  # MIME prefix of a glued value not shown in the notebook


def glue_record(name: str, value: Any, display: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (data, metadata) pair of the output that stores ``value`` under ``name``.

    Separated from :func:`glue` so that a test can compare it with MyST-NB's reader without a kernel.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a glue name must be a non-empty string, got {name!r}")
    from IPython.core.formatters import format_display_data

    data, metadata = format_display_data(value)
    prefix = "" if display else HIDDEN_PREFIX
    metadata = dict(metadata)
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    return {prefix + mime: content for mime, content in data.items()}, metadata


def glue(name: str, value: Any, display: bool = True) -> None:
    """Save ``value``'s displayed form in the cell's output under ``name`` for the book to insert.

    name    -- the name that ``{glue:}`name``` and ``{glue:figure} name`` refer to in the prose
    value   -- anything Jupyter can display: a number, a string, a matplotlib figure, a table
    display -- also show the value in the notebook (False keeps the output invisible there)
    """
    from IPython.display import display as show

    data, metadata = glue_record(name, value, display)
    show(data, raw=True, metadata=metadata)
