"""The release a chapter installs in Colab, its install cell, and the version floors (issue 24)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import course_utils
from course_utils import release
from course_utils.runtime import VERSION_FLOORS, VersionError, check_versions

from colab_env import REQUIREMENTS as COLAB_REQUIREMENTS
from colab_env import first_training_cell
from conftest import ROOT

CHAPTERS = sorted((ROOT / "book").glob("ch*.ipynb"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def notebook(*sources: str) -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {}, "source": s} for s in sources]}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_install_cell_is_the_generated_one(path):
    """Address from _config.yml, version from the package, floors and extras from the chapter's imports."""
    nb = load(path)
    index = release.install_cell_index(nb)
    assert index is not None, f"{path.name}: no cell tagged {release.INSTALL_TAG!r}"
    first_code = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
    assert index == first_code, f"{path.name}: the install cell must be the first code cell"
    assert {"remove-cell", "nbval-ignore-output"} <= set(nb["cells"][index]["metadata"]["tags"])
    wanted = release.expected_install_cell(nb, ROOT)
    assert "".join(nb["cells"][index]["source"]) == wanted, (
        f"{path.name}: its install cell is not the generated one; run `.venv/bin/python -m course_utils.release sync`"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_chapter_imports_only_what_the_pinned_release_contains(path):
    """A chapter importing a module or function newer than its pinned release would fail in Colab."""
    sources = release.release_sources(ROOT, course_utils.__version__)
    assert release.missing_modules(load(path), sources) == []


def test_a_chapter_needing_more_than_the_release_is_caught():
    sources = {
        "course_utils": "__version__ = '1'\n",
        "course_utils.data": "def load_mnist():\n    pass\nfrom os import path as p\nN = 1\n",
        "course_utils.exercises": "def check(i):\n    pass\n",
        "course_utils.exercises.ch00": "",
    }
    ok = notebook("from course_utils.data import load_mnist, N, p\nimport course_utils\ncheck('ch00.a', 1)")
    assert release.missing_modules(ok, sources) == []
    bad = notebook(
        "from course_utils.glue import glue",  # a module the release lacks
        "from course_utils.data import load_mnist, load_fashion",  # a function it lacks
        "import course_utils.release",
        "from course_utils.exercises import check\ncheck('ch03.warmup', f)",  # a chapter's checks
    )
    assert release.missing_modules(bad, sources) == [
        "course_utils.data.load_fashion",
        "course_utils.exercises.ch03",
        "course_utils.glue",
        "course_utils.release",
    ]


def test_the_release_is_read_from_its_tag_once_it_exists(tmp_path):
    """After tagging, the release is the tagged tree: a module added later is not in it."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    package = tmp_path / "src" / "course_utils"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("__version__ = '0.1.0'\n")
    (package / "data.py").write_text("def load_mnist():\n    pass\n")
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    subprocess.run([*git, "tag", "v0.1.0"], check=True)
    (package / "glue.py").write_text("def glue():\n    pass\n")
    assert set(release.release_sources(tmp_path, "0.1.0")) == {"course_utils", "course_utils.data"}
    assert "course_utils.glue" in release.release_sources(tmp_path, "0.2.0")  # untagged: the working tree
    assert release.changed_since_release(tmp_path, "0.1.0") == []  # untracked files are not the release
    subprocess.run([*git, "add", "."], check=True)
    assert release.changed_since_release(tmp_path, "0.1.0") == ["src/course_utils/glue.py"]


def test_the_package_has_not_changed_since_its_release_tag():
    """Once v<version> is tagged, any change to the package needs a new version."""
    changed = release.changed_since_release(ROOT, course_utils.__version__)
    assert not changed, (
        f"v{course_utils.__version__} is released and {changed} changed since: raise __version__ in "
        "src/course_utils/__init__.py, add its CHANGELOG.md section and run `python -m course_utils.release sync`"
    )


def test_the_version_has_a_changelog_section_and_builds_the_package():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    version = course_utils.__version__
    assert release.changelog_has(changelog, version), f"CHANGELOG.md: no '## {version}' section"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'version = { attr = "course_utils.__version__" }' in pyproject


def test_the_repository_address_is_written_once():
    """_config.yml holds it; the install cells are generated from it; no other source types it."""
    url = release.repository_url((ROOT / "_config.yml").read_text(encoding="utf-8"))
    typed = []
    for path in [*ROOT.glob("src/**/*.py"), *ROOT.glob("tests/*.py"), ROOT / "README.md", ROOT / "Makefile"]:
        if url in path.read_text(encoding="utf-8"):
            typed.append(path.relative_to(ROOT).as_posix())
    assert typed == [], f"the repository address is typed in {typed}; read it from _config.yml"


def test_the_repository_address_is_read_from_the_config():
    config = "title: x\nrepository:\n  path_to_book: ''\n  url: https://example.org/a/b/\n  branch: main\n"
    assert release.repository_url(config) == "https://example.org/a/b"
    with pytest.raises(ValueError, match="repository: url"):
        release.repository_url("title: x\n")


# Import names whose distribution is named otherwise; every other import name is its distribution's.
DISTRIBUTION_OF = {"PIL": "pillow", "sklearn": "scikit-learn", "IPython": "ipython", "absl": "absl-py"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_chapter_imports_only_what_colab_ships_or_its_install_cell_brings(path):
    nb = load(path)
    ships = {
        line.split("#")[0].strip().lower()
        for line in COLAB_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
        if line.split("#")[0].strip()
    }
    brought = {module for module in release.EXTRA_REQUIREMENTS}
    outside = sorted(
        module
        for module in release.top_level_imports(release.chapter_code(nb))
        if module not in sys.stdlib_module_names
        and module != release.PACKAGE
        and module not in brought
        and DISTRIBUTION_OF.get(module, module).lower().replace("_", "-") not in ships
    )
    assert outside == [], f"{path.name} imports {outside}: neither Colab nor its install cell provides them"


def test_the_install_cell_installs_only_what_is_missing_or_too_old(monkeypatch, capsys):
    """Run the generated cell's code with pip replaced by a recorder."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, check: calls.append(args))
    rows = [
        ("course-utils", course_utils.__version__, "course-utils @ here"),  # present at this version
        ("numpy", "999.0", "numpy>=999.0"),  # too old
        ("no-such-package-xyz", "1.0", "no-such-package-xyz>=1.0"),  # absent
    ]
    exec(compile(release.install_cell(rows), "install-cell", "exec"), {})
    assert calls == [[sys.executable, "-m", "pip", "install", "-q", "numpy>=999.0", "no-such-package-xyz>=1.0"]]
    assert "Installing numpy>=999.0, no-such-package-xyz>=1.0" in capsys.readouterr().out
    calls.clear()
    exec(compile(release.install_cell(rows[:1]), "install-cell", "exec"), {})
    assert calls == []


def test_the_install_cell_fits_the_page():
    url = release.repository_url((ROOT / "_config.yml").read_text(encoding="utf-8"))
    rows = release.needs(notebook("import keras\nimport keras_tuner"), url, "10.20.30")
    assert [r[0] for r in rows] == ["course-utils", "keras", "keras-tuner"]
    assert max(len(line) for line in release.install_cell(rows).splitlines()) <= 88


def test_requirements_in_states_the_same_floors():
    text = (ROOT / "requirements.in").read_text(encoding="utf-8")
    for name, floor in VERSION_FLOORS.items():
        assert re.search(rf"^{re.escape(name)}>={re.escape(floor)}\b", text, re.M), f"requirements.in: {name}>={floor}"


def test_the_pinned_versions_meet_the_floors():
    pins = dict(re.findall(r"^([\w.-]+)==([\w.]+)", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M))
    check_versions({name: pins[name] for name in VERSION_FLOORS})
    for requirement in release.EXTRA_REQUIREMENTS.values():
        name, floor = requirement.split(">=")
        check_versions({name: pins[name]}, {name: floor})


def test_an_older_keras_stops_with_a_clear_message():
    check_versions({"keras": "3.14.0"})
    check_versions({"keras": "3.15.1", "tensorflow": "2.21.0"})
    with pytest.raises(VersionError, match=r"keras 3\.13\.2 is older than 3\.14.*pip install -U 'keras>=3\.14'"):
        check_versions({"keras": "3.13.2"})
    with pytest.raises(VersionError):
        check_versions({"keras": "3.10.0rc1"})
    assert VersionError("x")._render_traceback_() == ["VersionError: x"]


def test_glue_writes_what_myst_nb_reads(monkeypatch):
    """The same output as MyST-NB's own glue, which the book's {glue} roles read."""
    myst_glue = pytest.importorskip("myst_nb.ext.glue")
    import IPython.display

    from course_utils.glue import glue

    ours, theirs = [], []
    monkeypatch.setattr(IPython.display, "display", lambda data, **kw: ours.append((data, kw)))
    monkeypatch.setattr(myst_glue, "ipy_display", lambda data, **kw: theirs.append((data, kw)))
    for value, display in [(0.9812, True), ("97.5 %", False), ([1, 2], True)]:
        glue("name", value, display=display)
        myst_glue.glue("name", value, display=display)
    assert len(ours) == 3 and ours == theirs
    assert ours[1][0] == {"application/papermill.record/text/plain": "'97.5 %'"}


def test_glue_refuses_a_nameless_value():
    from course_utils.glue import glue_record

    with pytest.raises(ValueError, match="non-empty string"):
        glue_record("", 1)


def test_the_check_stops_at_the_first_cell_that_trains():
    """A cell that only defines a training function is not the first training cell; its caller is."""
    cells = [
        {"cell_type": "code", "source": "import keras\n"},
        {"cell_type": "markdown", "source": "model.fit(x) in prose"},
        {"cell_type": "code", "source": "def run(m):\n    return m.fit(x)\n"},
        {"cell_type": "code", "source": "print(1)\n"},
        {"cell_type": "code", "source": "result = run(model)\n"},
    ]
    assert first_training_cell(cells) == 4
    cells[3]["source"] = "history = model.fit(x, y)\n"
    assert first_training_cell(cells) == 3
