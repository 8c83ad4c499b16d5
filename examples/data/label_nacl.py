"""Label periodic rock-salt NaCl cells with a point-charge + Born–Mayer model, writing
``nacl_periodic.xyz``.

Why not GFN2-xTB: tblite's GFN2-xTB runs on periodic cells through its ASE calculator
(energy, forces and stress; 1.1 s for a 32-atom and 3.0 s for a 64-atom cell on 2
cores), but only at the Γ point, with no k-point sampling. For these small cells that
makes the labels depend on the supercell rather than on the structure: the perfect
crystal at a = 5.64 Å has −66.62, −66.72, −66.74 and −66.77 eV per atom in the 16-,
32-, 64- and 96-atom cells, and the 1x2x2 cell shows a stress of −0.0043 eV/Å³ along
its short axis against +0.0008 eV/Å³ along the two others, a 0.8 GPa anisotropy of a
cubic crystal. So the labels come from the model below instead, whose long-range
part is the exact Ewald energy of the ions.

Model: charges +1 e on Na and −1 e on Cl, with the Coulomb energy (e²/(4πε₀) =
14.399645 eV·Å) summed by Ewald summation: splitting parameter alpha = 0.45 Å⁻¹,
real-space cutoff 10 Å (erfc(4.5) ≈ 2·10⁻¹⁰) and every reciprocal vector with
|k| ≤ 4.8 Å⁻¹ (exp(−k²/(4 alpha²)) below 2·10⁻¹²). Na–Cl pairs also repel by the
Born–Mayer term A·exp(−r/rho), A = 1254 eV, rho = 0.3215 Å, within 6 Å, in its
shifted-force form (energy and force go to zero at 6 Å; the shift changes a pair's
energy by less than 10⁻⁵ eV). There is no Na–Na or Cl–Cl short-range term and no
dispersion. The model's perfect crystal has its minimum at a = 5.757 Å, so cells
near 5.64 Å are mostly compressed. Forces and stress are derivatives of the energy
by torch autograd (float64), the stress through a strain ε applied to positions and
cell, r → (1 + ε) r.

Frames: the conventional 8-atom cubic cell repeated 1x1x2 (16 atoms), 1x2x2 (32) and
2x2x2 (64), 100 frames each, in that order. For each frame the numpy ``Generator``
seeded with 0 draws, in this order, an isotropic strain s and three shear strains
ε_xy, ε_xz, ε_yz, each uniform in [−0.03, 0.03], and Gaussian noise of standard
deviation 0.1 Å on every coordinate. The cell (lattice constant 5.64 Å) and the
perfect-crystal positions are multiplied by 1 + ε, with ε the symmetric matrix of
diagonal s and those off-diagonal entries, then the noise is added. All cells are
stoichiometric.

Each frame has, per structure (``info``):

- ``energy``: the model's total energy in eV (Ewald plus Born–Mayer);
- ``stress``: the 3x3 stress in eV/Å³ in ASE's convention, stress = (1/V) ∂E/∂ε (so
  a compressed cell has a negative stress and a positive pressure −tr(stress)/3);

and, per atom (``arrays``), ``forces`` in eV/Å; ``pbc`` is True in all directions
and the cell is set. The script checks the Ewald sum against the Madelung constant of
NaCl (1.74756459463) in the 8- and 64-atom perfect cells and for two splitting
parameters, the forces of two frames against central finite differences of the
energy (step 10⁻⁴ Å) and the stress of one frame against central finite differences
under strain (step 10⁻⁵), and prints the errors and the time taken.

::

    pip install torch ase numpy
    python examples/data/label_nacl.py
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import ase.io
import numpy as np
import torch
from ase import Atoms
from ase.build import bulk

HERE = Path(__file__).parent
TARGET = HERE / "nacl_periodic.xyz"

SEED = 0
LATTICE = 5.64  # Å
REPEATS = ((1, 1, 2), (1, 2, 2), (2, 2, 2))
FRAMES_PER_SIZE = 100
MAX_STRAIN = 0.03
RATTLE_STD = 0.1  # Å

COULOMB = 14.399645  # e²/(4πε₀) in eV·Å
CHARGES = {11: 1.0, 17: -1.0}  # e
EWALD_ALPHA = 0.45  # Å⁻¹
EWALD_CUTOFF = 10.0  # Å, real space
EWALD_KMAX = 4.8  # Å⁻¹
BORN_MAYER_A = 1254.0  # eV
BORN_MAYER_RHO = 0.3215  # Å
BORN_MAYER_CUTOFF = 6.0  # Å
MADELUNG_NACL = 1.74756459463

torch.set_default_dtype(torch.float64)


def pair_list(
    positions: np.ndarray, cell: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices i, j and integer cell shifts n of every pair with |r_j + n·cell − r_i|
    below ``cutoff`` (i ≠ j when n = 0), each ordered pair once."""
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)  # between planes
    reach = np.ceil(cutoff / spacing).astype(int)
    ranges = [np.arange(-r, r + 1) for r in reach]
    shifts = np.stack(np.meshgrid(*ranges, indexing="ij"), -1).reshape(-1, 3)
    n = len(positions)
    vectors = (
        positions[None, None, :, :]
        - positions[None, :, None, :]
        + (shifts @ cell)[:, None, None, :]
    )
    distances = np.linalg.norm(vectors, axis=-1)
    keep = distances < cutoff
    keep[np.all(shifts == 0, axis=1), np.arange(n), np.arange(n)] = False
    s, i, j = np.nonzero(keep)
    return i, j, shifts[s]


def reciprocal_grid(cell: np.ndarray, kmax: float) -> np.ndarray:
    """Integer triples m ≠ 0 of the reciprocal vectors 2π m·cell⁻ᵀ with |k| ≤
    ``kmax``."""
    spacing = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)
    reach = np.ceil(kmax * spacing / (2 * np.pi)).astype(int) + 1
    ranges = [np.arange(-r, r + 1) for r in reach]
    m = np.stack(np.meshgrid(*ranges, indexing="ij"), -1).reshape(-1, 3)
    k = 2 * np.pi * m @ np.linalg.inv(cell).T
    norm = np.linalg.norm(k, axis=1)
    return m[(norm > 0) & (norm <= kmax)]


def energy(
    numbers: np.ndarray,
    positions: torch.Tensor,
    cell: torch.Tensor,
    alpha: float = EWALD_ALPHA,
    cutoff: float = EWALD_CUTOFF,
    kmax: float = EWALD_KMAX,
    repulsion: float = BORN_MAYER_A,
) -> torch.Tensor:
    """Ewald Coulomb energy of the ±1 charges plus the Na–Cl Born–Mayer energy with
    prefactor ``repulsion`` (eV), differentiable with respect to ``positions`` and
    ``cell`` (Å)."""
    q = torch.tensor([CHARGES[int(z)] for z in numbers])
    i, j, shifts = pair_list(
        positions.detach().numpy(), cell.detach().numpy(), max(cutoff, 6.0)
    )
    i, j = torch.from_numpy(i), torch.from_numpy(j)
    vectors = positions[j] - positions[i] + torch.from_numpy(shifts).double() @ cell
    r = torch.linalg.norm(vectors, dim=1)

    real = 0.5 * torch.sum(q[i] * q[j] * torch.erfc(alpha * r) / r * (r < cutoff))
    volume = torch.abs(torch.linalg.det(cell))
    m = torch.from_numpy(reciprocal_grid(cell.detach().numpy(), kmax)).double()
    k = 2 * math.pi * m @ torch.linalg.inv(cell).T
    k2 = torch.sum(k * k, dim=1)
    phase = positions @ k.T  # [atoms, k]
    structure_factor2 = (q @ torch.cos(phase)) ** 2 + (q @ torch.sin(phase)) ** 2
    reciprocal = (
        2
        * math.pi
        / volume
        * torch.sum(torch.exp(-k2 / (4 * alpha**2)) / k2 * structure_factor2)
    )
    self_energy = -alpha / math.sqrt(math.pi) * torch.sum(q * q)
    coulomb = COULOMB * (real + reciprocal + self_energy)

    unlike = (q[i] * q[j] < 0) & (r < BORN_MAYER_CUTOFF)
    rc, rho = BORN_MAYER_CUTOFF, BORN_MAYER_RHO
    at_cutoff = math.exp(-rc / rho)
    born_mayer = repulsion * (
        torch.exp(-r / rho) - at_cutoff + (r - rc) * at_cutoff / rho
    )
    return coulomb + 0.5 * torch.sum(born_mayer * unlike)


def label(atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray]:
    """Energy (eV), forces (eV/Å) and 3x3 stress (eV/Å³, ASE's sign) of ``atoms``."""
    positions = torch.tensor(atoms.positions, requires_grad=True)
    strain = torch.zeros((3, 3), requires_grad=True)
    deformation = torch.eye(3) + strain
    cell = torch.tensor(np.array(atoms.cell))
    e = energy(atoms.numbers, positions @ deformation.T, cell @ deformation.T)
    d_positions, d_strain = torch.autograd.grad(e, (positions, strain))
    stress = 0.5 * (d_strain + d_strain.T) / atoms.get_volume()
    return float(e.detach()), -d_positions.numpy(), stress.numpy()


def plain_energy(atoms: Atoms, **options: float) -> float:
    """The model's energy of ``atoms`` (eV), without derivatives; ``options`` go to
    ``energy``."""
    with torch.no_grad():
        positions = torch.tensor(atoms.positions)
        cell = torch.tensor(np.array(atoms.cell))
        return float(energy(atoms.numbers, positions, cell, **options))


def check_madelung() -> None:
    """Print the Madelung constant from the Ewald energy of perfect crystals."""
    other = {"alpha": 0.3, "cutoff": 14.0, "kmax": 3.3}
    for repeat in ((1, 1, 1), (2, 2, 2)):
        crystal = bulk("NaCl", "rocksalt", a=LATTICE, cubic=True).repeat(repeat)
        pairs = len(crystal) / 2
        for ewald in ({}, other):
            e = plain_energy(crystal, repulsion=0.0, **ewald)
            madelung = -e / pairs * (LATTICE / 2) / COULOMB
            print(
                f"Madelung constant, {len(crystal)} atoms, alpha"
                f" {ewald.get('alpha', EWALD_ALPHA)}: {madelung:.10f}"
                f" (error {madelung - MADELUNG_NACL:+.1e})"
            )


def equilibrium_lattice() -> float:
    """The lattice constant (Å) that minimises the perfect crystal's energy."""
    crystal = bulk("NaCl", "rocksalt", a=1.0, cubic=True)

    def per_atom(a: float) -> float:
        scaled = crystal.copy()
        scaled.set_cell(crystal.cell * a, scale_atoms=True)
        return plain_energy(scaled) / len(scaled)

    low, high = 5.0, 6.5
    golden = (math.sqrt(5) - 1) / 2
    while high - low > 1e-6:
        a, b = high - golden * (high - low), low + golden * (high - low)
        if per_atom(a) < per_atom(b):
            high = b
        else:
            low = a
    return 0.5 * (low + high)


def check_forces(atoms: Atoms, step: float = 1e-4) -> float:
    """Largest |autograd force − central finite difference| (eV/Å) of ``atoms``."""
    _, forces, _ = label(atoms)
    numeric = np.zeros_like(forces)
    for a in range(len(atoms)):
        for c in range(3):
            displaced = atoms.copy()
            displaced.positions[a, c] += step
            up = plain_energy(displaced)
            displaced.positions[a, c] -= 2 * step
            down = plain_energy(displaced)
            numeric[a, c] = -(up - down) / (2 * step)
    return float(np.abs(forces - numeric).max())


def check_stress(atoms: Atoms, step: float = 1e-5) -> float:
    """Largest |autograd stress − central finite difference under strain| (eV/Å³)."""
    _, _, stress = label(atoms)
    numeric = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            strain = np.zeros((3, 3))
            strain[a, b] += 0.5 * step
            strain[b, a] += 0.5 * step
            energies = []
            for sign in (1, -1):
                strained = atoms.copy()
                deformation = np.eye(3) + sign * strain
                strained.positions = atoms.positions @ deformation.T
                strained.set_cell(np.array(atoms.cell) @ deformation.T)
                energies.append(plain_energy(strained))
            numeric[a, b] = (
                (energies[0] - energies[1]) / (2 * step) / atoms.get_volume()
            )
    return float(np.abs(stress - numeric).max())


def structures(rng: np.random.Generator) -> list[Atoms]:
    """Strained and rattled stoichiometric supercells, in a fixed order."""
    frames = []
    for repeat in REPEATS:
        crystal = bulk("NaCl", "rocksalt", a=LATTICE, cubic=True).repeat(repeat)
        for _ in range(FRAMES_PER_SIZE):
            s = rng.uniform(-MAX_STRAIN, MAX_STRAIN)
            xy, xz, yz = rng.uniform(-MAX_STRAIN, MAX_STRAIN, size=3)
            strain = np.array([[s, xy, xz], [xy, s, yz], [xz, yz, s]])
            deformation = np.eye(3) + strain
            atoms = Atoms(
                numbers=crystal.numbers,
                positions=crystal.positions @ deformation.T,
                cell=np.array(crystal.cell) @ deformation.T,
                pbc=True,
            )
            atoms.positions += rng.normal(0.0, RATTLE_STD, size=atoms.positions.shape)
            frames.append(atoms)
    return frames


def main() -> None:
    """Check the model, label the cells and write them to ``TARGET``."""
    start = time.perf_counter()
    check_madelung()
    print(f"equilibrium lattice constant of the model: {equilibrium_lattice():.4f} Å")
    frames = structures(np.random.default_rng(SEED))
    for atoms in frames:
        e, forces, stress = label(atoms)
        atoms.info["energy"] = e
        atoms.info["stress"] = stress
        atoms.arrays["forces"] = forces
    labelled = time.perf_counter() - start
    for index in (0, len(frames) - 1):
        error = check_forces(frames[index])
        print(
            f"frame {index}: largest force error against finite differences"
            f" {error:.1e} eV/Å"
        )
    error = check_stress(frames[FRAMES_PER_SIZE])
    print(
        f"frame {FRAMES_PER_SIZE}: largest stress error against finite"
        f" differences {error:.1e} eV/Å³"
    )
    ase.io.write(TARGET, frames, format="extxyz")
    print(
        f"wrote {len(frames)} frames to {TARGET.name}; labelled in {labelled:.1f} s,"
        f" {time.perf_counter() - start:.1f} s with the checks"
    )


if __name__ == "__main__":
    main()
