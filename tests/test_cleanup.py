"""A pytest run deletes what it writes: its export cache and passed tests' temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WRITER = '''
import os, pathlib

def test_writes_as_the_suite_does(tmp_path):
    cache = pathlib.Path(os.environ["SAMCORE_CACHE"])
    (cache / "decoder-x.onnx").write_bytes(bytes(200_000))  # what a backend exports
    (tmp_path / "sam.pth").write_bytes(bytes(200_000))       # what a test writes
    print("CACHE", cache)
'''


def test_a_pytest_run_leaves_nothing_in_the_temp_folder(tmp_path: Path) -> None:
    """This repository's conftest.py and pytest settings, on a test that writes 400 kB."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_writer.py").write_text(WRITER)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "SAMCORE_CACHE"} | {"TMPDIR": str(temp)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "-p", "conftest", "-p", "no:cacheprovider",
         "-s", "-q", str(tmp_path / "tests")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
    cache = Path(next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("CACHE")))
    assert cache.name.startswith("samcore-test-cache-") and cache.parent == temp
    assert not cache.exists()
    left = [p for p in temp.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in left) < 10_000, left
