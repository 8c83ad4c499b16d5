"""TorchSim runs the exported model through metatomic-torchsim (the TorchSim section
of ``docs/engines.md``): a short run at constant energy whose energies and forces
are those ASE computes at the same positions."""

from __future__ import annotations

import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
from engines_page import run_section
from metatomic_ase import MetatomicCalculator

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        sys.version_info < (3, 12),
        reason="metatomic-torchsim needs torch-sim-atomistic >= 0.5, which requires "
        f"Python >= 3.12 (it uses 3.12-only syntax); this is Python "
        f"{sys.version_info.major}.{sys.version_info.minor}",
    ),
]


def test_nve_matches_ase(engine_dir: Path) -> None:
    run_section("TorchSim", engine_dir)
    frames = ase.io.read(engine_dir / "torchsim.xyz", ":")
    assert len(frames) == 20
    calculator = MetatomicCalculator(
        str(engine_dir / "model.pt"),
        extensions_directory=str(engine_dir / "extensions"),
    )
    moved = np.abs(
        frames[-1].positions - ase.io.read(engine_dir / "structure.xyz").positions
    )
    assert moved.max() > 1e-3
    for frame in frames:
        energy, forces = frame.get_potential_energy(), frame.get_forces()
        frame.calc = calculator
        assert frame.get_potential_energy() == pytest.approx(energy, abs=1e-5)
        np.testing.assert_allclose(frame.get_forces(), forces, atol=1e-5)
