"""The worked example of docs/adding-an-architecture.md runs: its code blocks are
written to a package registered through an entry point, and the tests it shows (the
conformance suite, training through ``atomtrain train`` included) pass."""

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest

GUIDE = Path(__file__).parents[2] / "docs" / "adding-an-architecture.md"

#: A fenced block whose info string names the file it holds: ```python path/to/file.py
FILE_BLOCK = re.compile(r"^```python (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def example_files() -> Dict[str, str]:
    return dict(FILE_BLOCK.findall(GUIDE.read_text(encoding="utf-8")))


def test_the_guide_shows_the_four_files_and_a_test_module():
    assert sorted(example_files()) == [
        "pairpot/__init__.py",
        "pairpot/documentation.py",
        "pairpot/model.py",
        "pairpot/trainer.py",
        "tests/test_pairpot.py",
    ]


@pytest.mark.slow
def test_the_worked_example_passes_the_suite(tmp_path):
    for relative, text in example_files().items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    info = tmp_path / "pairpot_example-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pairpot-example\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[atomtrain.architectures]\npairpot = pairpot\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::DeprecationWarning",
            "tests",
        ],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "failed" not in result.stdout
