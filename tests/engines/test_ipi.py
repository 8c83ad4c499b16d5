"""i-PI drives the exported model through its metatomic driver over a UNIX socket
(the i-PI section of ``docs/engines.md``): a few steps at constant energy, with the
energies ASE computes at the same positions."""

from __future__ import annotations

import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from engines_page import run_section
from metatomic_ase import MetatomicCalculator

pytestmark = pytest.mark.slow


def test_nve_over_a_socket_matches_ase(engine_dir: Path) -> None:
    if not (Path(sys.executable).parent / "i-pi").is_file():
        pytest.fail("i-pi is not installed: `make install` installs atomtrain[ipi]")
    run_section("i-PI", engine_dir, timeout=300)

    # columns: step, conserved, potential, kinetic (eV)
    table = np.loadtxt(engine_dir / "ipi.out")
    frames = ase.io.read(engine_dir / "ipi.pos_0.extxyz", ":")
    assert table.shape == (21, 4) and len(frames) == 21
    assert np.ptp(table[:, 1]) < 1e-3, table[:, 1]
    assert np.ptp(table[:, 2]) > 0.05  # the atoms did move
    calculator = MetatomicCalculator(
        str(engine_dir / "model.pt"),
        extensions_directory=str(engine_dir / "extensions"),
    )
    for atoms, potential in zip(frames, table[:, 2]):
        atoms.calc = calculator
        # i-PI prints 9 significant digits, and each engine rounds the positions
        # (converted from its own units) to the model's float32
        assert atoms.get_potential_energy() == pytest.approx(potential, abs=1e-5)
    assert not list(engine_dir.glob("atomtrain*")), "the socket was left behind"
