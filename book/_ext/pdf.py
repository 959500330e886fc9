"""Print the book to one PDF without LaTeX: `make pdf` (or `python book/_ext/pdf.py PAGE PDF`).

`make pdf` first builds the whole book as one HTML page (Sphinx's singlehtml builder); this script
opens that page in headless Chromium (Debian's `chromium`, or Playwright's), waits for MathJax,
and prints it on A4 with the print styles of course.css (no sidebars or buttons, code wrapped).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright


def chromium() -> str | None:
    """COURSE_CHROMIUM, Debian's chromium, or None for the one Playwright installed."""
    for name in (os.environ.get("COURSE_CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def print_pdf(page_path: Path, pdf_path: Path) -> int:
    """Print page_path to pdf_path; returns the PDF's number of pages."""
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    site = page_path.resolve().parents[1] if page_path.parent.name == "book" else page_path.parent
    if page_path.resolve().parent != site:  # jupyter-book writes it in book/, its links start at the site
        copy = site / "print.html"
        copy.write_text(page_path.read_text(encoding="utf-8"), encoding="utf-8")
        page_path = copy
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1024, "height": 900})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        page.goto(page_path.resolve().as_uri())
        page.wait_for_load_state("load")
        page.wait_for_function("() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)")
        page.evaluate("() => window.MathJax && MathJax.startup.promise")
        page.emulate_media(media="print")
        page.pdf(
            path=str(pdf_path),
            format="A4",
            print_background=True,
            margin={"top": "15mm", "bottom": "15mm", "left": "14mm", "right": "14mm"},
            display_header_footer=True,
            header_template="<span></span>",
            footer_template='<div style="font-size:8px;width:100%;text-align:center">'
            '<span class="pageNumber"></span> / <span class="totalPages"></span></div>',
        )
        browser.close()
    return pdf_path.read_bytes().count(b"/Type /Page") - pdf_path.read_bytes().count(b"/Type /Pages")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    start = time.perf_counter()
    pages = print_pdf(Path(argv[1]), Path(argv[2]))
    size = Path(argv[2]).stat().st_size / 1e6
    print(f"{argv[2]}: {pages} pages, {size:.1f} MB, printed in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
