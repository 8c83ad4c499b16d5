"""Label pairs of molecular ions with GFN2-xTB (tblite), writing ``ion_pairs_gfn2.xyz``.

Each frame holds two closed-shell molecular ions, far enough apart that most of their
interaction is the Coulomb energy of two like unit charges (about +14.4 eV·Å / r,
still 1 eV at 15 Å), so the energy depends on the structure well beyond a ~5 Å cutoff.

Ions: ammonium NH4+, methylammonium CH3NH3+, guanidinium C(NH2)3+, formate HCOO−,
acetate CH3COO− and nitrate NO3−. Each starts from the coordinates in ``IONS`` below
and is relaxed once with GFN2-xTB at its own charge (ASE ``BFGS`` to a largest force
component of 0.005 eV/Å) when the script starts.

Pairs: only same-sign pairs, the 6 unordered cation–cation pairs (total charge +2)
and the 6 unordered anion–anion pairs (total charge −2), 12 pair types with 50 frames
each. Cation–anion pairs are left out because GFN2-xTB moves a fraction of an
electron from the anion to the cation as the ions separate (the fractional charge
transfer of the method's delocalisation error), and its SCF then often fails.
``check_opposite_pairs`` prints this on every run: at 15 Å the cation keeps only
+0.85 e with formate or acetate, +0.95–0.98 e with nitrate (down to +0.87 e in other
orientations at 14 Å) and about +0.65 e with guanidinium, whose pairs mostly fail to
converge; the energy falls below −14.4/r by about 0.15 eV at 15 Å with the
carboxylates and 0.8 eV with guanidinium. Same-sign pairs keep their formal charges
(within 0.01 e out to 50 Å in a test; no frame here is rejected, and no ion's charge
drifts by more than 0.09 e) and their mean interaction energy is within 2 % of
+14.4/r beyond 9 Å. So every pair here repels: the energy falls as the
separation grows, at total charge +2 and −2 alike; there are no attractive pairs.

Frames: for pair type p and frame k (0–49) the numpy ``Generator`` seeded with 0
draws, in this order, a uniformly random rotation of each ion (from a normalised
4-vector of standard normals, a unit quaternion), a uniformly random direction, a
centre-of-mass separation uniform in [3 + 12 k / 50, 3 + 12 (k + 1) / 50) Å (so the
50 frames cover 3–15 Å evenly), and Gaussian noise of standard deviation 0.03 Å on
every atom. If any atom of one ion then lies within 1.8 Å of an atom of the other,
all of these are drawn again. The first ion's centre of mass is at the origin before
the noise. Frames are written in a fixed order (pair type as in ``PAIRS``, then k).

Labels: tblite's ASE calculator, ``TBLite(method="GFN2-xTB", charge=±2,
multiplicity=1)``. A frame is kept only if the SCF converges and the Mulliken partial
charges that tblite returns sum, over each ion, to its formal charge within 0.25 e;
rejected frames are printed with the reason and counted. Each kept frame has, per
structure (``info``):

- ``energy``: the GFN2-xTB total energy in eV;
- ``charge``: the total charge (+2 or −2);
- ``separation``: the distance in Å between the ions' centres of mass (ASE's atomic
  masses) in the written, rattled positions;
- ``pair``: the two ions, e.g. ``"NH4+/CH3NH3+"``;

and, per atom (``arrays``), ``forces`` in eV/Å. The first ion's atoms come first. The
structures are not periodic (``pbc`` False, no cell). The script prints the time
taken, the rejected frames, and the mean interaction energy (the pair's energy less
the energies of the two rattled ions computed alone) against 14.4 q1 q2 / r in bins
of separation (the outer bins also take the few frames that the noise moves just
outside 3–15 Å).

::

    pip install tblite ase
    python examples/data/label_ion_pairs.py
"""

from __future__ import annotations

import time
from collections import Counter
from itertools import combinations_with_replacement, pairwise
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.calculators.calculator import CalculationFailed
from ase.optimize import BFGS
from tblite.ase import TBLite

HERE = Path(__file__).parent
TARGET = HERE / "ion_pairs_gfn2.xyz"

SEED = 0
FRAMES_PER_PAIR = 50
SEPARATION_MIN = 3.0  # Å, centre of mass to centre of mass
SEPARATION_MAX = 15.0  # Å
MIN_CONTACT = 1.8  # Å, closest allowed distance between atoms of the two ions
RATTLE_STD = 0.03  # Å
CHARGE_TOLERANCE = 0.25  # e, allowed drift of each ion's summed partial charge
RELAX_FMAX = 0.005  # eV/Å
COULOMB = 14.399645  # e²/(4πε₀) in eV·Å
TABLE_BINS = (3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0)  # Å

# Starting geometries (Å) and formal charges; each is relaxed with GFN2-xTB first.
IONS: dict[str, tuple[int, list[tuple[str, tuple[float, float, float]]]]] = {
    "NH4+": (
        1,
        [
            ("N", (0.000, 0.000, 0.000)),
            ("H", (0.595, 0.595, 0.595)),
            ("H", (-0.595, -0.595, 0.595)),
            ("H", (-0.595, 0.595, -0.595)),
            ("H", (0.595, -0.595, -0.595)),
        ],
    ),
    "CH3NH3+": (
        1,
        [
            ("C", (0.000, 0.000, 0.000)),
            ("N", (0.000, 0.000, 1.500)),
            ("H", (0.000, 1.028, -0.363)),
            ("H", (-0.890, -0.514, -0.363)),
            ("H", (0.890, -0.514, -0.363)),
            ("H", (0.841, -0.486, 1.843)),
            ("H", (-0.841, -0.486, 1.843)),
            ("H", (0.000, 0.971, 1.843)),
        ],
    ),
    "C(NH2)3+": (
        1,
        [
            ("C", (0.000, 0.000, 0.000)),
            ("N", (1.330, 0.000, 0.000)),
            ("H", (1.835, 0.875, 0.000)),
            ("H", (1.835, -0.875, 0.000)),
            ("N", (-0.665, 1.152, 0.000)),
            ("H", (-1.675, 1.152, 0.000)),
            ("H", (-0.160, 2.026, 0.000)),
            ("N", (-0.665, -1.152, 0.000)),
            ("H", (-0.160, -2.026, 0.000)),
            ("H", (-1.675, -1.152, 0.000)),
        ],
    ),
    "HCOO-": (
        -1,
        [
            ("C", (0.000, 0.000, 0.000)),
            ("O", (1.142, -0.532, 0.000)),
            ("O", (-1.142, -0.532, 0.000)),
            ("H", (0.000, 1.120, 0.000)),
        ],
    ),
    "CH3COO-": (
        -1,
        [
            ("C", (0.000, 0.000, 0.000)),
            ("O", (1.142, -0.532, 0.000)),
            ("O", (-1.142, -0.532, 0.000)),
            ("C", (0.000, 1.530, 0.000)),
            ("H", (0.000, 1.893, 1.028)),
            ("H", (-0.890, 1.893, -0.514)),
            ("H", (0.890, 1.893, -0.514)),
        ],
    ),
    "NO3-": (
        -1,
        [
            ("N", (0.000, 0.000, 0.000)),
            ("O", (1.250, 0.000, 0.000)),
            ("O", (-0.625, 1.083, 0.000)),
            ("O", (-0.625, -1.083, 0.000)),
        ],
    ),
}
CATIONS = ("NH4+", "CH3NH3+", "C(NH2)3+")
ANIONS = ("HCOO-", "CH3COO-", "NO3-")
PAIRS = [
    *combinations_with_replacement(CATIONS, 2),
    *combinations_with_replacement(ANIONS, 2),
]


def calculator(charge: int) -> TBLite:
    """A GFN2-xTB calculator for a closed-shell system of total ``charge``."""
    return TBLite(method="GFN2-xTB", charge=charge, multiplicity=1, verbosity=0)


def relaxed_ions() -> dict[str, Atoms]:
    """Every ion of ``IONS`` relaxed at its formal charge, centre of mass at 0."""
    ions = {}
    for name, (charge, atoms) in IONS.items():
        ion = Atoms(
            symbols=[symbol for symbol, _ in atoms],
            positions=[position for _, position in atoms],
        )
        ion.calc = calculator(charge)
        BFGS(ion, logfile=None).run(fmax=RELAX_FMAX, steps=500)
        ion.calc = None
        ion.positions -= ion.get_center_of_mass()
        ions[name] = ion
    return ions


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3 by 3 rotation matrix, from a random unit quaternion."""
    w, x, y, z = (q := rng.normal(size=4)) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def place_pair(
    first: Atoms, second: Atoms, low: float, high: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rattled positions of ``first`` and ``second``, randomly rotated, with centres
    of mass a distance drawn uniformly in [``low``, ``high``) apart, redrawn until no
    two atoms of different ions are closer than ``MIN_CONTACT``."""
    while True:
        a = first.positions @ random_rotation(rng).T
        b = second.positions @ random_rotation(rng).T
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        b = b + rng.uniform(low, high) * direction
        a = a + rng.normal(0.0, RATTLE_STD, size=a.shape)
        b = b + rng.normal(0.0, RATTLE_STD, size=b.shape)
        contact = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1).min()
        if contact >= MIN_CONTACT:
            return a, b


def single_point(atoms: Atoms, charge: int) -> tuple[float, np.ndarray, np.ndarray]:
    """GFN2-xTB energy (eV), forces (eV/Å) and Mulliken charges (e) of ``atoms``;
    raises ``CalculationFailed`` if the SCF does not converge."""
    atoms.calc = calculator(charge)
    energy = float(atoms.get_potential_energy())
    forces = np.array(atoms.get_forces())
    charges = np.array(atoms.calc.get_charges())
    atoms.calc = None
    return energy, forces, charges


def check_opposite_pairs(ions: dict[str, Atoms]) -> None:
    """Print each ion's summed partial charge in cation–anion pairs at growing
    separations (fixed orientations): the charge transfer that leaves them out."""
    print("cation-anion pairs (not used): cation charge sum, e, at separation r")
    separations = (5.0, 10.0, 15.0)
    print(f"{'pair':>20}" + "".join(f"{r:>9.0f} Å" for r in separations))
    for cation in CATIONS:
        for anion in ANIONS:
            row = f"{cation + '/' + anion:>20}"
            for r in separations:
                shifted = ions[anion].positions + np.array([0.0, 0.0, r])
                positions = np.vstack([ions[cation].positions, shifted])
                numbers = np.concatenate([ions[cation].numbers, ions[anion].numbers])
                try:
                    _, _, charges = single_point(
                        Atoms(numbers=numbers, positions=positions), 0
                    )
                    row += f"{charges[: len(ions[cation])].sum():>11.3f}"
                except CalculationFailed:
                    row += f"{'no SCF':>11}"
            print(row)


def interaction_table(records: list[tuple[int, float, float]]) -> None:
    """Print the mean interaction energy and mean 14.4 q1 q2 / r of the kept frames
    in bins of separation, for each total charge. ``records`` holds (total charge,
    separation, interaction energy) triples."""
    print("mean interaction energy E(pair) - E(ion 1) - E(ion 2), eV, vs 14.4 q1q2/r")
    print(
        f"{'r / Å':>11} | {'n':>3} {'E_int(+2)':>10} {'14.4/r':>8} |"
        f" {'n':>3} {'E_int(-2)':>10} {'14.4/r':>8}"
    )
    for low, high in pairwise(TABLE_BINS):
        row = f"{low:>5.0f}-{high:<5.0f}"
        for charge in (2, -2):
            chosen = [
                (r, e)
                for q, r, e in records
                if q == charge
                and (low <= r or low == TABLE_BINS[0])
                and (r < high or high == TABLE_BINS[-1])
            ] or [(np.nan, np.nan)]
            r, e = np.array(chosen).T
            n = int(np.isfinite(r).sum())
            row += f" | {n:>3} {e.mean():>10.3f} {np.mean(COULOMB / r):>8.3f}"
        print(row)


def main() -> None:
    """Label the pairs and write every kept frame to ``TARGET``."""
    start = time.perf_counter()
    ions = relaxed_ions()
    check_opposite_pairs(ions)
    rng = np.random.default_rng(SEED)
    width = (SEPARATION_MAX - SEPARATION_MIN) / FRAMES_PER_PAIR
    frames: list[Atoms] = []
    records: list[tuple[int, float, float]] = []
    rejected: Counter[str] = Counter()
    drift = 0.0  # largest deviation of a kept ion's charge from its formal one
    for first_name, second_name in PAIRS:
        first, second = ions[first_name], ions[second_name]
        q1, q2 = IONS[first_name][0], IONS[second_name][0]
        pair = f"{first_name}/{second_name}"
        for k in range(FRAMES_PER_PAIR):
            low = SEPARATION_MIN + k * width
            a, b = place_pair(first, second, low, low + width, rng)
            numbers = np.concatenate([first.numbers, second.numbers])
            atoms = Atoms(numbers=numbers, positions=np.vstack([a, b]))
            separation = float(
                np.linalg.norm(
                    atoms[len(a) :].get_center_of_mass()
                    - atoms[: len(a)].get_center_of_mass()
                )
            )
            try:
                energy, forces, charges = single_point(atoms, q1 + q2)
                e1, _, _ = single_point(Atoms(numbers=first.numbers, positions=a), q1)
                e2, _, _ = single_point(Atoms(numbers=second.numbers, positions=b), q2)
            except CalculationFailed:
                rejected["SCF not converged"] += 1
                print(f"rejected {pair} r = {separation:.2f} Å: SCF not converged")
                continue
            s1, s2 = charges[: len(a)].sum(), charges[len(a) :].sum()
            if abs(s1 - q1) > CHARGE_TOLERANCE or abs(s2 - q2) > CHARGE_TOLERANCE:
                rejected["ion charge off by more than 0.25 e"] += 1
                print(
                    f"rejected {pair} r = {separation:.2f} Å:"
                    f" ion charges {s1:+.3f}, {s2:+.3f}"
                )
                continue
            drift = max(drift, abs(s1 - q1), abs(s2 - q2))
            frame = Atoms(numbers=numbers, positions=atoms.positions, pbc=False)
            frame.info["energy"] = energy
            frame.info["charge"] = int(q1 + q2)
            frame.info["separation"] = separation
            frame.info["pair"] = pair
            frame.arrays["forces"] = forces
            frames.append(frame)
            records.append((q1 + q2, separation, energy - e1 - e2))
    ase.io.write(TARGET, frames, format="extxyz")
    interaction_table(records)
    print(f"rejected {sum(rejected.values())} frames: {dict(rejected)}")
    print(f"largest drift of a kept ion's charge from its formal one: {drift:.3f} e")
    print(
        f"wrote {len(frames)} frames to {TARGET.name}"
        f" in {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
