"""The large-data workflow of ``docs/concepts/datasets.md``, run exactly as written:
every shell command of the page in order, in a directory holding the data it names,
with every YAML block headed ``# <file>`` written to that file before the commands
that follow it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).parent.parent.parent
PAGE = ROOT / "docs" / "concepts" / "datasets.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def blocks() -> List[Tuple[str, str]]:
    """``(language, text)`` of every fenced block of the page, in order."""
    return FENCE.findall(PAGE.read_text())


def test_the_page_holds_the_whole_workflow() -> None:
    commands = [
        line
        for language, text in blocks()
        if language == "bash"
        for line in text.splitlines()
    ]
    assert [c.split()[:2] for c in commands] == [
        ["atomtrain", "convert"],
        ["atomtrain", "convert"],
        ["atomtrain", "convert"],
        ["atomtrain", "convert"],
        ["atomtrain", "check"],
        ["atomtrain", "train"],
        ["atomtrain", "eval"],
        ["torchrun", "--standalone"],
        ["atomtrain", "check"],
    ]
    files = [t.splitlines()[0] for language, t in blocks() if language == "yaml"]
    assert files == ["# options.yaml", "# mixed.yaml"]


@pytest.mark.slow
def test_every_command_runs_as_written(tmp_path: Path) -> None:
    shutil.copy(
        ROOT / "examples" / "data" / "ethanol_gfn2_1000.xyz", tmp_path / "ethanol.xyz"
    )
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
    }
    for language, text in blocks():
        if language == "yaml":
            name = text.splitlines()[0].removeprefix("# ")
            (tmp_path / name).write_text(text)
            continue
        for command in text.splitlines():
            result = subprocess.run(
                command,
                shell=True,
                cwd=tmp_path,
                env=environment,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, (command, result.stderr[-3000:])
            if command.startswith("atomtrain eval"):
                assert "energy.forces.mae" in result.stdout
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "model-2.pt").is_file()
    sizes = {
        name: json.loads((tmp_path / name / "header.json").read_text())[
            "num_structures"
        ]
        for name in ("ethanol-dataset", "copy-dataset", "merged-dataset")
    }
    assert sizes == {
        "ethanol-dataset": 1000,
        "copy-dataset": 2000,
        "merged-dataset": 2000,
    }
