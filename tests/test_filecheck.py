"""Runs the lit + filecheck IR tests under tests/filecheck as part of pytest."""

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent / "filecheck"


def test_lit_filecheck_suite():
    lit = shutil.which("lit") or str(Path(sys.executable).parent / "lit")
    result = subprocess.run(
        [lit, "-v", str(HERE)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "Passed" in result.stdout
