"""The "start here" page, ``docs/quickstart.md``, run exactly as written: every shell
command in order, in a directory holding ``ethanol.xyz``, with every YAML or Python
block headed ``# <file>`` written to that file before the commands that follow."""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import ase.io
import pytest

ROOT = Path(__file__).parent.parent.parent
PAGE = ROOT / "docs" / "quickstart.md"
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
        ["seq", "0"],
        ["seq", "900"],
        ["atomtrain", "check"],
        ["atomtrain", "train"],
        ["atomtrain", "eval"],
        ["python", "md.py"],
    ]
    files = [t.splitlines()[0] for language, t in blocks() if language != "bash"]
    assert files == [
        "# options.yaml",
        "# held-out.yaml",
        "# md.py: Langevin dynamics of ethanol at 300 K",
    ]
    # the held-out frames are never trained on
    assert "indices: training.txt" in blocks()[1][1]
    assert "indices: held-out.txt" in blocks()[3][1]


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
    printed = {}
    for language, text in blocks():
        if language != "bash":
            name = text.splitlines()[0].removeprefix("# ").split(":")[0]
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
                timeout=1200,
            )
            assert result.returncode == 0, (command, result.stderr[-3000:])
            printed[command.split()[1]] = result.stdout

    # errors on the 100 held-out frames: far better than predicting zero forces
    with open(tmp_path / "errors.csv") as file:
        header, _, *rows = list(csv.reader(file))
    assert [int(row[header.index("frame")]) for row in rows] == list(range(900, 1000))
    force_mae = float(printed["eval"].split("energy.forces.mae  = ")[1].split()[0])
    labels = ase.io.read(tmp_path / "ethanol.xyz", "900:")
    mean_force = sum(abs(a.get_forces()).mean() for a in labels) / len(labels)
    assert force_mae < 0.1 * mean_force
    predicted = ase.io.read(tmp_path / "predictions.xyz", ":")
    assert "energy_label" in predicted[0].info and "forces_label" in predicted[0].arrays
    # the log holds what eval printed; the chemiscope file its predictions
    log = (tmp_path / "predictions.log").read_text()
    assert all(line in log for line in printed["eval"].splitlines())
    with gzip.open(tmp_path / "predictions.chemiscope.json.gz", "rt") as file:
        chemiscope = json.load(file)
    assert len(chemiscope["structures"]) == 100
    assert chemiscope["properties"]["energy_label"]["values"] == pytest.approx(
        [frame.info["energy_label"] for frame in predicted]
    )
    temperatures = [float(line.split()[-2]) for line in printed["md.py"].splitlines()]
    assert len(temperatures) == 10 and max(temperatures) < 1000
