"""Write ``qm7x_polarizability_100.xyz``: the 100 QM7-X molecules of
``tests/resources/qm7x_reduced_100.xyz`` with their polarizability both as the
Cartesian 3 by 3 tensor of the source (``polarizability``, row-major, atomic units,
bohr³) and as its spherical parts (``polarizability_spherical``): λ = 0 (one
number, minus the trace divided by √3, the sign of the real Clebsch–Gordan
coefficients) then λ = 2 (five numbers, ``o3_mu = -2 … 2``), both σ = +1. The
antisymmetric part (λ = 1, σ = −1) of a polarizability is zero, and is left out.

The spherical parts are the orthonormal decomposition that atomtrain's models use
(:func:`atomtrain.modules.equivariant.cartesian_matrix`), so that a model of either
form can be compared with the other one on the same numbers.

::

    python examples/data/spherical_polarizability.py
"""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np

from atomtrain.modules.equivariant import cartesian_matrix

HERE = Path(__file__).parent
SOURCE = HERE.parent.parent / "tests" / "resources" / "qm7x_reduced_100.xyz"
OUTPUT = HERE / "qm7x_polarizability_100.xyz"


def spherical_parts(cartesian: np.ndarray) -> np.ndarray:
    """The λ = 0 and λ = 2 components (1 + 5) of a 3 by 3 ``cartesian`` tensor."""
    matrix = cartesian_matrix(2).numpy()  # Cartesian ← (λ0, λ1 σ=−1, λ2)
    spherical = matrix.T @ cartesian.reshape(9)
    return np.concatenate([spherical[:1], spherical[4:]])


def main() -> None:
    frames = ase.io.read(SOURCE, ":")
    for atoms in frames:
        cartesian = np.asarray(atoms.info["polarizability"], dtype=float)
        atoms.info["polarizability_spherical"] = spherical_parts(cartesian)
    ase.io.write(OUTPUT, frames)
    print(f"wrote {len(frames)} structures to {OUTPUT}")


if __name__ == "__main__":
    main()
