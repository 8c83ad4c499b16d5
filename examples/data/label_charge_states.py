"""Label QM7-X molecules in three charge states with GFN2-xTB (tblite), writing
``qm7x_charge_states.xyz``.

The first 60 molecules of ``qm7x_polarizability_100.xyz`` are taken (positions and
atomic numbers only). Each gives three geometries: the original one and two copies
whose positions are rattled by Gaussian noise of standard deviation 0.05 Å (numpy
``Generator`` seeded with 0, drawn in the order of the frames). Each geometry is
computed in three electronic states with tblite's ASE calculator: neutral (charge 0),
cation (charge +1) and anion (charge −1). The spin multiplicity is 1 when the number
of electrons (sum of the atomic numbers minus the charge) is even and 2 when it is
odd.

Frames are written in a fixed order (molecule, then geometry, then state), each with,
per structure (``info``):

- ``energy``: the GFN2-xTB total energy in eV;
- ``charge``: the total charge (0, +1 or −1);
- ``spin_multiplicity``: 2S + 1 (1 or 2);
- ``molecule``: the index of the molecule (0–59);

and, per atom (``arrays``), ``forces`` in eV/Å. Calculations that fail (for example
an SCF that does not converge) are skipped and counted.

::

    pip install tblite ase
    python examples/data/label_charge_states.py
"""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed
from tblite.ase import TBLite

HERE = Path(__file__).parent
SOURCE = HERE / "qm7x_polarizability_100.xyz"
TARGET = HERE / "qm7x_charge_states.xyz"

N_MOLECULES = 60
N_RATTLED = 2
RATTLE_STD = 0.05  # Å
SEED = 0
CHARGES = (0, 1, -1)  # neutral, cation, anion


def spin_multiplicity(numbers: np.ndarray, charge: int) -> int:
    """Lowest spin multiplicity of ``numbers`` with total ``charge``: 1 for an even
    number of electrons, 2 for an odd one."""
    n_electrons = int(np.sum(numbers)) - charge
    return 1 if n_electrons % 2 == 0 else 2


def geometries(positions: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """The original ``positions`` followed by ``N_RATTLED`` copies rattled by Gaussian
    noise of standard deviation ``RATTLE_STD`` (Å)."""
    rattled = [
        positions + rng.normal(0.0, RATTLE_STD, size=positions.shape)
        for _ in range(N_RATTLED)
    ]
    return [positions.copy(), *rattled]


def label(
    numbers: np.ndarray, positions: np.ndarray, charge: int, molecule: int
) -> Atoms | None:
    """A fresh frame with the GFN2-xTB energy (eV) and forces (eV/Å) of the structure
    in the given ``charge`` state, or ``None`` if the calculation fails."""
    multiplicity = spin_multiplicity(numbers, charge)
    atoms = Atoms(numbers=numbers, positions=positions)
    atoms.calc = TBLite(
        method="GFN2-xTB", charge=charge, multiplicity=multiplicity, verbosity=0
    )
    try:
        energy = float(atoms.get_potential_energy())
        forces = np.array(atoms.get_forces())
    except CalculationFailed:
        return None

    frame = Atoms(numbers=numbers, positions=positions, pbc=False)
    frame.info["energy"] = energy
    frame.info["charge"] = int(charge)
    frame.info["spin_multiplicity"] = int(multiplicity)
    frame.info["molecule"] = int(molecule)
    frame.arrays["forces"] = forces
    return frame


def main() -> None:
    """Label the molecules and write every converged frame to ``TARGET``."""
    molecules = ase.io.read(SOURCE, f":{N_MOLECULES}")
    rng = np.random.default_rng(SEED)
    frames: list[Atoms] = []
    skipped = 0
    for index, molecule in enumerate(molecules):
        numbers = molecule.numbers.copy()
        for positions in geometries(molecule.positions, rng):
            for charge in CHARGES:
                frame = label(numbers, positions, charge, index)
                if frame is None:
                    skipped += 1
                else:
                    frames.append(frame)
    ase.io.write(TARGET, frames, format="extxyz")
    print(f"wrote {len(frames)} frames to {TARGET.name}; skipped {skipped}")


if __name__ == "__main__":
    main()
