"""The tensor targets of ``docs/concepts/targets.md``, run exactly as written: the
options file of the page, in a directory holding the data it names, trained with
the page's command."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parent.parent.parent
PAGE = ROOT / "docs" / "concepts" / "targets.md"
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def test_the_page_shows_an_options_file_and_its_command() -> None:
    blocks = FENCE.findall(PAGE.read_text())
    assert [(language, text.splitlines()[0]) for language, text in blocks] == [
        ("yaml", "# options.yaml"),
        ("bash", "atomtrain train options.yaml"),
    ]
    targets = yaml.safe_load(blocks[0][1])["training_set"]["targets"]
    assert {name: next(iter(t["type"])) for name, t in targets.items()} == {
        "mtt::dipole": "cartesian",
        "mtt::quadrupole": "cartesian",
        "mtt::dipole_spherical": "spherical",
    }


@pytest.mark.slow
def test_the_options_file_trains_as_written(tmp_path: Path) -> None:
    (_, options), (_, command) = FENCE.findall(PAGE.read_text())
    (tmp_path / "options.yaml").write_text(options)
    shutil.copy(
        ROOT / "examples" / "data" / "ethanol_gfn2_dipoles_1000.xyz",
        tmp_path / "ethanol_gfn2_dipoles_1000.xyz",
    )
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
    }
    run = subprocess.run(
        command.split(),
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for name in ("mtt::dipole", "mtt::quadrupole", "mtt::dipole_spherical"):
        assert f"{name}.mae" in run.stdout
    assert (tmp_path / "model.pt").is_file()
