"""`make pdf`: the whole book printed to one PDF by headless Chromium, without LaTeX (about 30 s)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.book
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import pdf  # noqa: E402  (book/_ext/pdf.py)


def test_make_pdf_prints_the_whole_book(tmp_path):
    if pdf.chromium() is None and not os.environ.get("CI"):
        pytest.skip("no Chromium: `apt-get install chromium`")
    build = subprocess.run(
        [ROOT / ".venv" / "bin" / "jupyter-book", "build", ROOT, "--builder", "singlehtml", "--path-output", tmp_path],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    page = tmp_path / "_build" / "singlehtml" / "book" / "intro.html"
    html = page.read_text(encoding="utf-8")
    for chapter in sorted((ROOT / "book").glob("ch*.ipynb")):  # every chapter, numbered as on the site
        number, part = re.match(r"ch(\d+)([a-z]?)_", chapter.name).groups()
        assert f">{int(number)}{part}. " in html, f"{chapter.name} is missing from the one-page book"
    pages = pdf.print_pdf(page, tmp_path / "book.pdf")
    size = (tmp_path / "book.pdf").stat().st_size
    assert pages > 100 and size < 30e6, (pages, size)
