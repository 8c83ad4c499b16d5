"""Label the frames of ``ethanol_gfn2_1000.xyz`` with GFN2-xTB dipole moments and
quadrupole moments (tblite), writing ``ethanol_gfn2_dipoles_1000.xyz``.

Each frame keeps its positions, ``energy`` (eV) and ``forces`` (eV/Å), and gains, per
structure (``info``):

- ``dipole``: the dipole moment in e·Å, Cartesian ``(x, y, z)``;
- ``dipole_spherical``: the same vector as a spherical λ = 1 tensor, components
  ``o3_mu = -1, 0, 1``, that is ``(y, z, x)``;
- ``quadrupole``: the traceless quadrupole moment in e·Å², a 3 by 3 Cartesian matrix
  (row-major), from tblite's six packed components (xx, xy, yy, xz, yz, zz).

The moments are those of the GFN2-xTB charge density about the centre of mass of
each frame (the molecules are neutral: the dipole does not depend on the origin,
the quadrupole does, and about the centre of mass it depends on the geometry
alone).

::

    pip install tblite ase
    python examples/data/label_dipoles.py
"""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from ase.units import Bohr

HERE = Path(__file__).parent


def moments(atoms) -> tuple[np.ndarray, np.ndarray]:
    """GFN2-xTB dipole (e·Å) and traceless quadrupole (e·Å², 3 by 3) of ``atoms``."""
    from tblite.interface import Calculator

    centred = atoms.positions - atoms.get_center_of_mass()
    calculator = Calculator(
        "GFN2-xTB", atoms.numbers, centred / Bohr, charge=0.0, uhf=0
    )
    calculator.set("verbosity", 0)
    result = calculator.singlepoint()
    dipole = np.asarray(result.get("dipole")) * Bohr
    xx, xy, yy, xz, yz, zz = np.asarray(result.get("quadrupole")) * Bohr**2
    quadrupole = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return dipole, quadrupole


def main() -> None:
    frames = ase.io.read(HERE / "ethanol_gfn2_1000.xyz", ":")
    for atoms in frames:
        dipole, quadrupole = moments(atoms)
        atoms.info["dipole"] = dipole
        atoms.info["dipole_spherical"] = dipole[[1, 2, 0]]
        atoms.info["quadrupole"] = quadrupole.reshape(-1)
    ase.io.write(HERE / "ethanol_gfn2_dipoles_1000.xyz", frames)


if __name__ == "__main__":
    main()
