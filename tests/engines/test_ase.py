"""ASE runs the exported model in a process that imports only ASE and metatomic
(``md.py`` and ``relax.py`` of ``docs/engines.md``): molecular dynamics conserves
the energy, and a relaxation of positions and cell driven by the stress finds the
lattice of the potential the model learnt."""

from __future__ import annotations

from pathlib import Path

import ase.build
import ase.io
import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE
from engines_page import run_section

pytestmark = pytest.mark.slow


def test_md_and_relaxation(engine_dir: Path) -> None:
    [output] = run_section("ASE", engine_dir)
    assert "total energy" in output and "cell lengths" in output

    frames = ase.io.read(engine_dir / "md.traj", ":")
    assert len(frames) == 21
    totals = np.array([atoms.get_total_energy() for atoms in frames])
    kinetic = frames[-1].get_kinetic_energy()
    # 200 steps of 1 fs: the total energy stays within a few meV while about 1 eV
    # moves between kinetic and potential energy (wrong forces heat the crystal)
    assert kinetic > 0.3
    assert np.ptp(totals) < 2e-3, totals

    relaxed = ase.io.read(engine_dir / "relaxed.xyz")
    assert np.abs(relaxed.get_forces()).max() < 0.005
    # FIRE stopped on the cell's generalised forces, stress x volume / atoms
    assert (
        np.abs(relaxed.get_stress()).max() < 0.005 * len(relaxed) / relaxed.get_volume()
    )
    # the model's lattice is EMT's own to within 1 %
    reference = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    reference.calc = EMT()
    FIRE(FrechetCellFilter(reference), logfile=None).run(fmax=1e-4, steps=500)
    ratio = relaxed.cell.lengths() / reference.cell.lengths()
    np.testing.assert_allclose(ratio, 1.0, atol=0.01)
