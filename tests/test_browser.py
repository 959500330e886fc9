"""The built book as a reader gets it: every page opened in a real browser, offline, from disk.

Headless Chromium (Debian's `chromium`, driven by Playwright) loads each page from `file://` with
every other request refused, as a reader on a train would. Install the browser with
`apt-get install chromium` (or `.venv/bin/playwright install chromium`); CI installs it. Where a
check fails, a screenshot of the page is saved in `_build/browser-failures/`.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from conftest import HTML, ROOT

pytestmark = pytest.mark.book

SHOTS = ROOT / "_build" / "browser-failures"
DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
PAGES = sorted(p.name for p in (ROOT / "book").glob("*.ipynb")) + sorted(p.name for p in (ROOT / "book").glob("*.md"))
# A formula left as TeX shows its delimiters or control words outside typeset math.
RAW_TEX = re.compile(r"\\\(|\\\[|\$\$|\\(frac|nabla|sum|mathbf|partial|left|right|begin)\b")
HASHED_NAME = re.compile(r"^[0-9a-f]{16,}(\.\w+)?$")


def _chromium() -> str | None:
    """Debian's chromium, or the one Playwright downloads; None where neither is installed."""
    for name in (os.environ.get("COURSE_CHROMIUM", ""), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    try:
        with sync_playwright() as p:
            path = p.chromium.executable_path
        return path if Path(path).is_file() else None
    except Exception:
        return None


@pytest.fixture(scope="module")
def browser(built_book):
    executable = _chromium()
    if executable is None:
        message = (
            "no Chromium for the browser tests: `apt-get install chromium` (or `.venv/bin/playwright install chromium`)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


class Visit:
    """One page opened offline at one viewport, with what went wrong while it loaded."""

    def __init__(self, browser, name: str, viewport: dict, allow: str = "file:"):
        self.name = name
        self.allow = allow
        self.context = browser.new_context(viewport=viewport)
        self.outside: list[str] = []
        self.context.route("**/*", self._offline)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))

    def _offline(self, route):
        if route.request.url.startswith(self.allow):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def open(self, path: Path, wait_for_math: bool = True):
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")
        if wait_for_math:
            # MathJax typesets asynchronously; its startup promise settles when every formula is done.
            # A MathJax that never loads leaves its formulas untypeset: page_problems reports them.
            try:
                self.page.wait_for_function(
                    "() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)", timeout=5_000
                )
                self.page.evaluate("() => window.MathJax && MathJax.startup.promise")
            except PlaywrightError:
                pass
        return self.page

    def fail(self, problems: list[str]):
        """Save a screenshot, then fail with every problem found on the page."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        shot = SHOTS / f"{Path(self.name).stem}-{self.page.viewport_size['width']}.png"
        self.page.screenshot(path=str(shot), full_page=False)
        pytest.fail(f"{self.name}: " + "; ".join(problems) + f" (screenshot: {shot.relative_to(ROOT)})")

    def close(self):
        self.context.close()


def _html(name: str) -> Path:
    return HTML / "book" / f"{Path(name).stem}.html"


def test_the_browser_test_covers_every_page(built_book):
    assert PAGES and all(_html(name).is_file() for name in PAGES), PAGES


def page_problems(visit: Visit, path: Path) -> list[str]:
    """What a reader would find wrong on one page opened offline from disk, at desktop width."""
    page = visit.open(path)
    problems = []
    if visit.outside:
        problems.append(f"requests outside the site: {sorted(set(visit.outside))[:3]}")
    if visit.failed:
        problems.append(f"failed requests: {sorted(set(visit.failed))[:3]}")
    if visit.errors:
        problems.append(f"console errors: {visit.errors[:3]}")
    untyped = page.evaluate(
        """() => [...document.querySelectorAll('.math, span.math, div.math')]
               .filter(e => !e.querySelector('mjx-container')).length"""
    )
    if untyped:
        problems.append(f"{untyped} formulas not typeset")
    text = page.evaluate(
        """() => { const c = document.querySelector('article').cloneNode(true);
                 c.querySelectorAll('pre, code, mjx-container, script').forEach(e => e.remove());
                 return c.innerText; }"""
    )
    if RAW_TEX.search(text):
        problems.append(f"raw TeX in the text: {sorted(set(m.group(0) for m in RAW_TEX.finditer(text)))[:5]}")
    images = page.evaluate(
        """() => [...document.querySelectorAll('article img')].map(i => ({
               src: i.getAttribute('src'), alt: i.getAttribute('alt') || '',
               loaded: i.complete && i.naturalWidth > 0}))"""
    )
    for image in images:
        if not image["loaded"]:
            problems.append(f"image not loaded: {image['src']}")
        alt = image["alt"].strip()
        if len(alt.split()) < 3 or HASHED_NAME.match(alt):
            problems.append(f"image without a descriptive alt text: {image['src']} (alt={alt!r})")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('article div.highlight pre, article .output pre')]
               .filter(e => e.scrollWidth > e.clientWidth + 1)
               .map(e => e.innerText.split('\\n').reduce((a, b) => a.length >= b.length ? a : b))"""
    )
    if wide:
        problems.append(f"{len(wide)} code or output blocks wider than the column, e.g. {wide[0][:60]!r}")
    return problems


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_offline_with_math_images_and_columns(browser, name):
    visit = Visit(browser, name, DESKTOP)
    try:
        problems = page_problems(visit, _html(name))
        if problems:
            visit.fail(problems)
    finally:
        visit.close()


def test_the_page_check_catches_cdn_math_and_lost_alt_text(browser, tmp_path):
    """Proof that the check above can fail: a copy of a chapter with MathJax from a CDN, no alt text."""
    site = tmp_path / "html"
    shutil.copytree(HTML, site)
    page = site / "book" / "ch01_gradients.html"
    html = page.read_text()
    local = re.search(r'src="[^"]*mathjax/tex-chtml\.js[^"]*"', html)
    assert local, "the page no longer loads the local MathJax: update this test"
    html = html.replace(local.group(0), 'src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"')
    html, stripped = re.subn(r'<img alt="[^"]*" (src="../_images/)', r"<img \1", html, count=1)
    assert stripped == 1
    page.write_text(html)
    visit = Visit(browser, "broken", DESKTOP)
    try:
        problems = " ".join(page_problems(visit, page))
    finally:
        visit.close()
    assert "requests outside the site: ['https://cdn.jsdelivr.net" in problems, problems
    assert "formulas not typeset" in problems and "raw TeX" in problems, problems
    assert "without a descriptive alt text" in problems, problems


@pytest.mark.parametrize("name", [n for n in PAGES if n.endswith(".ipynb")])
def test_exercises_render_as_numbered_boxes(browser, name):
    course = json.loads((ROOT / "book" / name).read_text(encoding="utf-8"))["metadata"].get("course", {})
    if course.get("exercises_in"):
        pytest.skip("a chapter's later part: its exercises are in the first part")
    visit = Visit(browser, name, DESKTOP)
    try:
        page = visit.open(_html(name), wait_for_math=False)
        boxes = page.evaluate(
            """() => [...document.querySelectorAll('div.admonition.exercise')].map(b => ({
                   title: b.querySelector('.admonition-title').innerText,
                   visible: b.getBoundingClientRect().height > 0}))"""
        )
        crosses = page.evaluate(
            "() => [...document.querySelectorAll('.cell_output')].some(o => o.innerText.includes('\\u274c'))"
        )
        problems = []
        titles = [b["title"] for b in boxes]
        if sum(t.startswith("Exercise") for t in titles) < 4 or not any(t.startswith("Quiz") for t in titles):
            problems.append(f"exercise boxes {titles}: at least four exercises and a quiz expected")
        links = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.getAttribute('href') || '')")
        source = f"../_sources/book/{name}"
        if source not in links or not (HTML / "_sources" / "book" / name).is_file():
            problems.append(f"no working download button for {name}")
        if not any(link.startswith("https://colab.research.google.com/") and link.endswith(name) for link in links):
            problems.append("no Colab launch button")
        exercise = r"Exercise \d+ · (build|extend|decide|diagnose) · \d+ points?$"
        if not all(re.match(exercise, t) or re.match(r"Quiz · \d+ points?$", t) for t in titles):
            problems.append(f"exercise titles not in the format: {titles}")
        if not all(b["visible"] for b in boxes):
            problems.append("an exercise box is not visible")
        if crosses:
            problems.append("a failing check's red cross is shown")
        if problems:
            visit.fail(problems)
    finally:
        visit.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_fits_a_phone(browser, name):
    """At 390 px wide code may scroll inside its box, but the page itself must not scroll sideways."""
    visit = Visit(browser, name, PHONE)
    try:
        page = visit.open(_html(name), wait_for_math=True)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            culprits = page.evaluate(
                """() => [...document.querySelectorAll('article *')]
                       .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
                                    && !e.closest('pre, .highlight, mjx-container, table'))
                       .slice(0, 3).map(e => e.tagName + '.' + e.className)"""
            )
            visit.fail([f"the page scrolls sideways by {overflow} px at 390 px: {culprits}"])
    finally:
        visit.close()


def _becomes(locator, state: str, timeout: float = 5_000) -> bool:
    """Wait until the element is "visible" or "hidden"; False if it never gets there."""
    try:
        locator.wait_for(state=state, timeout=timeout)
        return True
    except PlaywrightError:
        return False


def _the_toggle(visit: Visit):
    """The one visible table-of-contents button of the page (fails the test otherwise)."""
    toggles = [t for t in visit.page.locator("button.primary-toggle").all() if t.is_visible()]
    if len(toggles) != 1:
        visit.fail([f"{len(toggles)} visible table-of-contents buttons (one expected)"])
    return toggles[0]


@pytest.mark.parametrize("name", ["ch01_gradients.ipynb", "intro.md"])
def test_phone_table_of_contents_opens_and_closes(browser, name):
    visit = Visit(browser, name, PHONE)
    try:
        page = visit.open(_html(name), wait_for_math=False)
        link = page.locator(".bd-sidebar-primary a.reference.internal", has_text="Gradients").first
        if link.is_visible():
            visit.fail(["the table of contents is open before anyone asked"])
        _the_toggle(visit).click()
        if not _becomes(link, "visible") or link.bounding_box()["x"] < 0:
            visit.fail(["the table of contents did not open"])
        page.keyboard.press("Escape")
        if not _becomes(link, "hidden"):
            visit.fail(["the table of contents did not close"])
        if visit.errors:
            visit.fail([f"console errors: {visit.errors[:3]}"])
    finally:
        visit.close()


def test_desktop_sidebar_collapses_and_comes_back(browser):
    visit = Visit(browser, "ch00_getting_started.ipynb", DESKTOP)
    try:
        page = visit.open(_html("ch00_getting_started.ipynb"), wait_for_math=False)
        link = page.locator(".bd-sidebar-primary a.reference.internal", has_text="Gradients").first
        toggle = _the_toggle(visit)
        if not link.is_visible():
            visit.fail(["the table of contents is not shown on a desktop"])
        toggle.click()
        if not _becomes(link, "hidden"):
            visit.fail(["the table of contents did not collapse"])
        toggle.click()
        if not _becomes(link, "visible"):
            visit.fail(["the table of contents did not come back"])
    finally:
        visit.close()


@pytest.mark.parametrize("system", ["light", "dark"])
def test_theme_follows_the_system_and_the_button_switches_it(browser, system):
    visit = Visit(browser, "intro.md", DESKTOP)
    visit.context.close()  # the same visit, in a browser whose system setting is `system`
    visit.context = browser.new_context(viewport=DESKTOP, color_scheme=system)
    visit.context.route("**/*", visit._offline)
    visit.page = visit.context.new_page()
    visit.page.on("console", lambda m: visit.errors.append(m.text) if m.type == "error" else None)
    try:
        page = visit.open(_html("intro.md"), wait_for_math=False)
        theme = "() => document.documentElement.dataset.theme"
        background = "() => getComputedStyle(document.body).backgroundColor"
        if page.evaluate(theme) != system:
            visit.fail([f"the page starts {page.evaluate(theme)!r} in a {system} system"])
        first = page.evaluate(background)
        other = "dark" if system == "light" else "light"
        for _ in range(3):  # the button cycles through light, dark and "as the system says"
            page.locator("button.theme-switch-button").first.click()
            if page.evaluate(theme) == other:
                break
        else:
            visit.fail([f"three clicks on the theme button never gave the {other} theme"])
        page.wait_for_function(f"() => getComputedStyle(document.body).backgroundColor !== {first!r}", timeout=5_000)
        if visit.errors:
            visit.fail([f"console errors: {visit.errors[:3]}"])
    finally:
        visit.close()


@pytest.fixture(scope="module")
def served(built_book):
    """The site over HTTP on localhost, as a host serves it (search fetches pages, which file:// forbids)."""
    handler = functools.partial(QuietHandler, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site without logging every request to the test output."""

    def log_message(self, format: str, *args) -> None:
        pass


def test_search_finds_pages(browser, served):
    visit = Visit(browser, "search", DESKTOP, allow=served)
    try:
        page = visit.page
        page.goto(f"{served}/search.html?q=gradient")
        page.wait_for_function("() => document.querySelectorAll('#search-results li').length > 0", timeout=15_000)
        hits = page.evaluate("() => [...document.querySelectorAll('#search-results li a')].map(a => a.innerText)")
        if not any("Gradient" in h for h in hits):
            visit.fail([f"searching 'gradient' did not find the chapter: {hits[:5]}"])
        if visit.errors or visit.outside:
            visit.fail([f"console errors {visit.errors[:3]}, outside requests {visit.outside[:3]}"])
    finally:
        visit.close()
