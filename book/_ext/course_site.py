"""Small fixes to how the book's pages come out (a local Sphinx extension, see _config.yml).

- Chapters are numbered in their titles, as their figures are: "1. Gradients and gradient descent"
  in the table of contents and on the page; a chapter's second part (ch03b_) is "3b." and its
  figures go on from the first part's (Fig. 3.7 follows Fig. 3.6).
- The bibliography's labels are author-year, as the citations are ("Pascanu et al., 2013", not
  "[PMB13]"): the pybtex style "authoryear" registered here (see _config.yml).
- Figures are numbered per chapter (Fig. 1.3 is chapter 1's third figure), not on across the book.
- The sidebar buttons work with the theme versions pinned in requirements.txt (see sidebar-toggles.js).
- Tables keep every column in view at every width (course-tables.js, course.css).
- The theme starts in "auto" mode (light or dark as the reader's system says), without the console
  error that an empty default mode gives.
- Each exercise has one title: its section heading ("Exercise 1: the Huber loss and its gradient");
  the box under it, titled "Exercise 1 · build · 2 points" in the notebook (the grader's format),
  shows only "build · 2 points" on the page.
- Search works from disk: without the excerpts (browsers refuse to fetch pages from file://), and
  saying how to serve the site to get them (course-search.js).
- All the chapters' notebooks are zipped into notebooks.zip at the site's root, offered in every
  page's download menu (course-downloads.js) and on the home page.
- Of the MathJax distribution that sphinx-mathjax-offline copies into the site (24 MB) only what
  the pages load is kept (about 3 MB): the tex-chtml component, the TeX extensions it may load,
  its fonts, the menu and the assistive MathML. Dropped: the other components and the speech
  rule engine (the menu's optional speech explorer then does not start offline).
- The Thebe scripts and configuration block that jupyter-book adds to every page are dropped: no
  page runs code live, and they were emitted twice (a console error) and point at a CDN.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from docutils import nodes
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle

CHAPTER = re.compile(r"(^|/)ch(\d+)([a-z]?)_[^/]*$")
STATIC = Path(__file__).resolve().parents[1] / "_static"


def author_year_label(entry) -> str:
    """ "Pascanu et al., 2013": one or two last names, or the first one and "et al." for three or
    more (or for "X and others")."""
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [Text(*person.rich_last_names).render_as("text") for person in persons]
    names = [name.replace("{", "").replace("}", "") for name in names]
    if not names:
        who = entry.fields.get("organization") or entry.fields.get("title", entry.key)
    elif len(names) > 2 or names[-1] == "others":
        who = f"{names[0]} et al."
    else:
        who = " and ".join(names)
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        """Author-year labels; the same authors and year twice become "2024a", "2024b"."""
        labels = [author_year_label(entry) for entry in sorted_entries]
        repeated = {label for label in labels if labels.count(label) > 1}
        seen: dict[str, int] = {}
        for label in labels:
            if label in repeated:
                seen[label] = seen.get(label, 0) + 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)


def _configure(app, config) -> None:
    config.html_context = {**config.html_context, "default_mode": "auto"}
    config.html_static_path = [*config.html_static_path, str(STATIC)]


def _number_chapter_title(app, doctree) -> None:
    """Put the chapter's number before its title (the table of contents shows the same title)."""
    match = CHAPTER.search(app.env.docname)
    section = next(iter(doctree.findall(nodes.section)), None)
    if match and section is not None and isinstance(section[0], nodes.title):
        section[0].insert(0, nodes.Text(f"{int(match.group(2))}{match.group(3)}. "))


def _number_figures_per_chapter(app, env) -> list[str]:
    """Renumber each chapter's figures from 1, prefixed with the chapter number; a chapter's later
    part (ch03b_) goes on from where the earlier one (ch03_, sorted first) stopped."""
    counted: dict[tuple[int, str], int] = {}
    for docname in sorted(env.toc_fignumbers):
        match = CHAPTER.search(docname)
        for kind, numbers in env.toc_fignumbers[docname].items():
            order = sorted(numbers, key=lambda ident: numbers[ident])
            before = counted.get((int(match.group(2)), kind), 0) if match else 0
            for position, ident in enumerate(order, start=before + 1):
                numbers[ident] = (int(match.group(2)), position) if match else (position,)
            if match:
                counted[(int(match.group(2)), kind)] = before + len(order)
    return []


def _others_as_et_al(app, doctree, docname) -> None:
    """A citation of "Chollet and others" (pybtex reads "others" as a second author) reads
    "Chollet et al.", as citations of three or more authors do."""
    for text in list(doctree.findall(nodes.Text)):
        if " and others" in text and isinstance(text.parent, nodes.reference):
            before, after = str(text).split(" and others", 1)
            text.parent.replace(text, [nodes.Text(before + " "), nodes.emphasis("", "et al."), nodes.Text(after)])


MATHJAX_KEEP = ("tex-chtml.js", "input/tex/", "output/chtml/", "a11y/", "ui/")


def _zip_notebooks(app, exception) -> None:
    """notebooks.zip: every notebook of the book, as the download buttons give them one by one."""
    if exception or app.builder.name != "html":
        return
    with zipfile.ZipFile(Path(app.outdir) / "notebooks.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for notebook in sorted(Path(app.srcdir, "book").glob("*.ipynb")):
            archive.write(notebook, f"notebooks/{notebook.name}")


def _trim_mathjax(app, exception) -> None:
    """Delete the parts of the copied MathJax distribution that no page loads."""
    root = Path(app.outdir) / "_static" / "mathjax"
    if exception or not root.is_dir():
        return
    for path in sorted(root.rglob("*"), reverse=True):
        if path.is_file() and not path.relative_to(root).as_posix().startswith(MATHJAX_KEEP):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


EXERCISE_BOX = re.compile(r"^(Exercise \d+|Quiz) · ")


def _one_title_per_exercise(app, doctree, docname) -> None:
    """Drop "Exercise N · " from an exercise box's title where its section heading says it."""
    for box in list(doctree.findall(nodes.admonition)):
        section, title = box.parent, box[0] if len(box) else None
        if "exercise" not in box["classes"] or not isinstance(section, nodes.section):
            continue
        if not isinstance(title, nodes.title) or not title.children or not isinstance(title[0], nodes.Text):
            continue
        match = EXERCISE_BOX.match(str(title[0]))
        if match and section[0].astext().startswith(match.group(1)):
            title.replace(title[0], nodes.Text(str(title[0])[match.end() :]))


def _drop_thebe_config(app, doctree, docname) -> None:
    """Remove the configuration block and kernel name that sphinx-thebe appends to every page."""
    for node in list(doctree.findall(nodes.raw)):
        if "x-thebe-config" in node.astext() or "kernelName =" in node.astext():
            node.parent.remove(node)


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
    app.connect("doctree-read", _number_chapter_title, priority=400)
    app.connect("env-get-updated", _number_figures_per_chapter, priority=900)
    app.connect("doctree-resolved", _drop_thebe_config, priority=900)
    app.connect("doctree-resolved", _others_as_et_al, priority=900)
    app.connect("doctree-resolved", _one_title_per_exercise)
    app.connect("build-finished", _trim_mathjax, priority=900)
    app.connect("build-finished", _zip_notebooks)
    app.connect("html-page-context", _drop_thebe)
    app.add_js_file("sidebar-toggles.js")
    app.add_js_file("course-tables.js")
    app.add_js_file("course-downloads.js")
    app.add_js_file("course-search.js")
    app.add_css_file("course.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
