"""Periodic structures with stress side by side with the reference implementation:
SOAP-BPNN or PET learning energies, forces and stress (or virial) of crystals.

Data (``--data``):

- ``carbon``: ``tests/resources/carbon_reduced_100.xyz``, 100 DFT cells of 4 carbon
  atoms (forces under ``force``, a 3x3 ``virial`` in eV): small cells, where every
  atom sees many periodic images of its neighbours;
- ``alloys``: 300 cells written by this script (:func:`alloy_cells`): face-centred
  cubic supercells of 32 or 48 atoms (2x2x2 and 2x2x3 conventional cells) with each
  site Cu, Ni, Pd or Au at random and the mean lattice constant of the chosen
  elements, under a random strain of up to ±3 %
  and rattled by 0.1 Å (seed 0), labelled with ASE's EMT (energy, forces, stress).

Both tools are trained through their command lines (``atomtrain train``, ``mtt
train``) in fresh processes, one after the other, with the same options (the
reference's default hypers of the architecture, float32, batch size 8, learning rate
1e-3, the same epochs and threads) on the same 80/10/10 % split; each exported model
is then evaluated here by the same code through ``metatomic_ase.MetatomicCalculator``
on the test cells: energy MAE per atom, force MAE and stress MAE, and the whole
``train`` wall time.

Measured on 2026-12-06 with SOAP-BPNN (one thread, an otherwise idle machine; kept
in ``benchmarks/results/periodic_stress_soap_bpnn_*.json``), test MAE of energies
(eV/atom), forces (eV/Å) and stress (eV/Å³)::

                         wall     energy   force   stress
    alloys, 30 epochs
      atomtrain          181 s    0.0021   0.063   0.0010
      reference          316 s    0.0033   0.108   0.0023
      ratio              0.57     0.64     0.58    0.45
    carbon, 30 epochs
      atomtrain          19.7 s   0.0094   0.226   0.022
      reference          29.3 s   0.0283   0.471   0.041
      ratio              0.67     0.33     0.48    0.54

On 80 cells of 4 atoms the fixed costs of a run (start-up, reading, export, final
evaluation) weigh more than the 300 training steps.

    .venv/bin/python benchmarks/periodic_stress_vs_reference.py --data alloys
        [--architecture soap_bpnn] [--epochs 30] [--threads 1] [--output r.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import ase
import ase.build
import ase.io
import numpy as np
from soap_bpnn_vs_reference import (
    ATOMTRAIN,
    REFERENCE,
    calculator,
    report,
    train,
    write_shuffled_split,
)

ROOT = Path(__file__).resolve().parent.parent
CARBON = ROOT / "tests" / "resources" / "carbon_reduced_100.xyz"
#: The target section of each data set.
TARGETS: Dict[str, Dict[str, Any]] = {
    "carbon": {
        "key": "energy",
        "unit": "eV",
        "forces": {"key": "force"},
        "virial": {"key": "virial"},
    },
    "alloys": {
        "key": "energy",
        "unit": "eV",
        "forces": {"key": "forces"},
        "stress": {"key": "stress"},
    },
}


#: Lattice constants (Å) of the elements of the alloys, fcc.
LATTICE = {"Cu": 3.61, "Ni": 3.52, "Pd": 3.89, "Au": 4.08}


def alloy_cells(count: int = 300) -> List[ase.Atoms]:
    """Random fcc alloy supercells labelled with EMT (see the module docstring)."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(0)
    cells = []
    for index in range(count):
        repeats = (2, 2, 2) if index % 2 == 0 else (2, 2, 3)
        atoms = ase.build.bulk("Cu", "fcc", a=1.0, cubic=True).repeat(repeats)
        symbols = rng.choice(list(LATTICE), len(atoms))
        atoms.set_chemical_symbols(symbols)
        # Vegard's law: the mean of the elements' lattice constants
        lattice = np.mean([LATTICE[symbol] for symbol in symbols])
        atoms.set_cell(atoms.cell.array * lattice, scale_atoms=True)
        strain = np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3))
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0.0, 0.1, atoms.positions.shape)
        atoms.calc = EMT()
        results = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **results)
        cells.append(atoms)
    return cells


def write_split(directory: Path, data: str) -> Dict[str, Path]:
    """80/10/10 % of the shuffled frames (seed 0) as training, validation, test."""
    frames = ase.io.read(CARBON, ":") if data == "carbon" else alloy_cells()
    return write_shuffled_split(frames, directory, 0.8, 0.1)


def options(paths: Dict[str, Path], args: argparse.Namespace) -> Dict[str, Any]:
    def section(part: str) -> Dict[str, Any]:
        return {
            "systems": {"read_from": str(paths[part]), "length_unit": "angstrom"},
            "targets": {"energy": TARGETS[args.data]},
        }

    return {
        "seed": 0,
        "base_precision": 32,
        "architecture": {
            "name": args.architecture,
            "training": {
                "num_epochs": args.epochs,
                "batch_size": 8,
                "learning_rate": 1e-3,
                "log_interval": 1,
                "checkpoint_interval": args.epochs + 1,
            },
        },
        "training_set": section("train"),
        "validation_set": section("validation"),
        "test_set": section("test"),
    }


def stress_of(atoms: ase.Atoms, data: str) -> np.ndarray:
    """The labelled stress (3x3, eV/Å³, ASE's sign) of a test frame."""
    if data == "carbon":
        return -np.array(atoms.info["virial"]).reshape(3, 3) / atoms.get_volume()
    return atoms.get_stress(voigt=False)


def test_errors(directory: Path, test_file: Path, data: str) -> Dict[str, float]:
    calc = calculator(directory)
    energies: List[float] = []
    forces: List[np.ndarray] = []
    stresses: List[np.ndarray] = []
    for atoms in ase.io.read(test_file, ":"):
        energy = atoms.get_potential_energy()
        force = atoms.arrays["force"] if data == "carbon" else atoms.get_forces()
        stress = stress_of(atoms, data)
        atoms.calc = calc
        energies.append(abs(atoms.get_potential_energy() - energy) / len(atoms))
        forces.append(np.abs(atoms.get_forces() - force).ravel())
        stresses.append(np.abs(atoms.get_stress(voigt=False) - stress).ravel())
    return {
        "energy_mae_per_atom": float(np.mean(energies)),
        "force_mae": float(np.mean(np.concatenate(forces))),
        "stress_mae": float(np.mean(np.concatenate(stresses))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(TARGETS), default="alloys")
    parser.add_argument(
        "--architecture", choices=["soap_bpnn", "pet"], default="soap_bpnn"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="JSON results")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="periodic_stress_bench_"))
    paths = write_split(work, args.data)
    config = options(paths, args)
    results: Dict[str, Any] = {
        "data": args.data,
        "architecture": args.architecture,
        "epochs": args.epochs,
        "runs": {},
    }
    for name, command in (("atomtrain", ATOMTRAIN), ("reference", REFERENCE)):
        directory = work / name
        seconds = train(command, directory, config, args.threads)
        errors = test_errors(directory, paths["test"], args.data)
        results["runs"][name] = {"train_seconds": seconds, **errors}
        print(name, json.dumps(results["runs"][name]), flush=True)
    report(results, args.output, work)


if __name__ == "__main__":
    main()
