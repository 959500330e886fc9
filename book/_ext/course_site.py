"""Small fixes to how the book's pages come out (a local Sphinx extension, see _config.yml).

- Figures are numbered per chapter (Fig. 1.3 is chapter 1's third figure), not on across the book.
- The sidebar buttons work with the theme versions pinned in requirements.txt (see sidebar-toggles.js).
- Tables keep every column in view at every width (course-tables.js, course.css).
- The theme starts in "auto" mode (light or dark as the reader's system says), without the console
  error that an empty default mode gives.
- The Thebe scripts that jupyter-book adds to every page are dropped: no page runs code live, and
  they were emitted twice (a console error) and point at a CDN.
"""

from __future__ import annotations

import re
from pathlib import Path

CHAPTER = re.compile(r"(^|/)ch(\d+)_[^/]*$")
STATIC = Path(__file__).resolve().parents[1] / "_static"


def _configure(app, config) -> None:
    config.html_context = {**config.html_context, "default_mode": "auto"}
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _number_figures_per_chapter(app, env) -> list[str]:
    """Renumber each chapter's figures from 1, prefixed with the chapter number."""
    for docname, kinds in env.toc_fignumbers.items():
        match = CHAPTER.search(docname)
        for numbers in kinds.values():
            order = sorted(numbers, key=lambda ident: numbers[ident])
            for position, ident in enumerate(order, start=1):
                numbers[ident] = (int(match.group(2)), position) if match else (position,)
    return []


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    def keep(asset) -> bool:
        filename = getattr(asset, "filename", "") or ""
        body = getattr(asset, "attributes", {}).get("body", "")
        return "thebe" not in filename and "THEBE" not in body

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if keep(asset)]


def setup(app):
    app.connect("config-inited", _configure)
    app.connect("env-get-updated", _number_figures_per_chapter, priority=900)
    app.connect("html-page-context", _drop_thebe)
    app.add_js_file("sidebar-toggles.js")
    app.add_js_file("course-tables.js")
    app.add_css_file("course.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
