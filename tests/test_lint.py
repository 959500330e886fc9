"""The code is lint-clean and formatted (ruff, configured in pyproject.toml): `make lint`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
CODE = ["src", "tests", "instructor", "benchmarks", "book/_ext"]

pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed (it is in requirements.txt)")


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_is_clean(command):
    done = subprocess.run(
        [RUFF, *command, *[c for c in CODE if (ROOT / c).is_dir()]], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
