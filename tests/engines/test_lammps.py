"""LAMMPS runs the exported model with the metatomic pair style (the LAMMPS section
of ``docs/engines.md``), where an ``lmp`` built with it is on the path: the energy
of the starting structure is ASE's, and the total energy is conserved."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import List

import ase.io
import pytest
from engines_page import environment, run_section
from metatomic_ase import MetatomicCalculator

pytestmark = pytest.mark.slow


def lmp() -> str | None:
    return shutil.which("lmp", path=environment()["PATH"])


def thermo_rows(log: str) -> List[List[float]]:
    """The rows of ``thermo_style custom step pe ke etotal`` in a LAMMPS log."""
    rows, inside = [], False
    for line in log.splitlines():
        words = line.split()
        if words[:4] == ["Step", "PotEng", "KinEng", "TotEng"]:
            inside = True
        elif inside and len(words) == 4:
            try:
                rows.append([float(word) for word in words])
            except ValueError:
                inside = False
        else:
            inside = False
    return rows


@pytest.mark.skipif(lmp() is None, reason="no `lmp` on the path (docs/engines.md)")
def test_md_matches_ase(engine_dir: Path) -> None:
    help_text = subprocess.run(
        [str(lmp()), "-h"], capture_output=True, text=True
    ).stdout
    assert "metatomic" in help_text, (
        f"{lmp()} has no metatomic pair style: install lammps-metatomic "
        "(docs/engines.md)"
    )
    run_section("LAMMPS", engine_dir)
    rows = thermo_rows((engine_dir / "log.lammps").read_text())
    assert [row[0] for row in rows] == [0, 10, 20]
    start = ase.io.read(engine_dir / "structure.xyz")
    start.calc = MetatomicCalculator(
        str(engine_dir / "model.pt"),
        extensions_directory=str(engine_dir / "extensions"),
    )
    assert rows[0][1] == pytest.approx(start.get_potential_energy(), abs=1e-6)
    totals = [row[3] for row in rows]
    assert max(totals) - min(totals) < 1e-3
