"""The conventions' checks: the core passes mypy --strict, everything passes ruff."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_is_strictly_typed():
    res = subprocess.run([sys.executable, "-m", "mypy", "--strict", "nanokube/api", "nanokube/storage", "nanokube/client", "nanokube/controllers",
                          "nanokube/scheduler", "nanokube/simnodes"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def test_lint_is_clean():
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "nanokube", "tests", "bench"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
