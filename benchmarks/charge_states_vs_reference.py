"""Charge and spin conditioning side by side with the reference implementation: PET
learning the GFN2-xTB energies and forces of QM7-X molecules as neutral singlets,
cation doublets and anion doublets with one model for all states.

Data: ``examples/data/qm7x_charge_states.xyz`` (60 molecules, 3 geometries each,
3 states each; see ``examples/data/README.md``), split by molecule so that no test
molecule is seen in training: molecules 0–47 train (432 frames), 48–53 validation
(54), 54–59 test (54). The states of one geometry differ by about 13 eV (cation)
and −4 eV (anion): a model blind to the charge cannot tell them apart.

Runs, each through its command line in a fresh process, one after the other, with
the same options (PET at the hypers of ``pet_vs_reference.py``, float32, batch
size, learning rate, epochs):

- ``atomtrain``: ``system_conditioning: true`` with ``extra_data`` ``charge`` and
  ``spin_multiplicity``;
- ``reference``: the same options file, read by ``mtt train``;
- ``atomtrain_blind``: atomtrain without conditioning (and without the extra
  data), to show what the conditioning is for.

Each exported model is then evaluated here by the same code, through
``metatomic_ase.MetatomicCalculator`` with ``atoms.info["charge"]`` and
``atoms.info["spin_multiplicity"]`` set: test energy MAE (eV per structure) and
force MAE (eV/Å) per charge state, and the whole ``train`` wall time.

Measured on 2026-12-06 with the defaults (30 epochs, batch 8, learning rate 1e-3,
one thread, an otherwise idle machine; kept as
``benchmarks/results/charge_states_pet.json``), test MAE per state, energies in eV
per structure and forces in eV/Å::

                       train wall   neutral          cation           anion
                                    energy  force    energy  force    energy  force
    atomtrain          230 s        0.049   0.171    0.048   0.187    0.069   0.200
    reference          333 s        0.090   0.151    0.075   0.190    0.131   0.196
    ratio              0.69         0.54    1.13     0.65    0.99     0.53    1.02
    atomtrain, blind   208 s        3.00    0.277    10.5    0.288    7.33    0.371

One model learns all three states in both tools; without the conditioning the
states' energies are confused (errors of 3 to 10 eV, about the ionisation energy
and electron affinity). atomtrain's energies are about half the reference's error,
its forces within 13 %.

    .venv/bin/python benchmarks/charge_states_vs_reference.py [--epochs 30]
        [--threads 1] [--output results.json]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import ase.io
import numpy as np
from soap_bpnn_vs_reference import ATOMTRAIN, REFERENCE, calculator, report, train
from tensor_targets_vs_reference import PET_HYPERS, training

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data" / "qm7x_charge_states.xyz"
STATES = {0: "neutral", 1: "cation", -1: "anion"}


def write_split(directory: Path) -> Dict[str, Path]:
    """Train, validation and test files, split by molecule."""
    frames = ase.io.read(DATA, ":")
    bounds = {"train": (0, 48), "validation": (48, 54), "test": (54, 60)}
    paths = {}
    for name, (low, high) in bounds.items():
        paths[name] = directory / f"{name}.xyz"
        part = [a for a in frames if low <= a.info["molecule"] < high]
        ase.io.write(paths[name], part)
    return paths


def options(
    paths: Dict[str, Path], conditioned: bool, args: argparse.Namespace
) -> Dict[str, Any]:
    def section(part: str) -> Dict[str, Any]:
        values: Dict[str, Any] = {
            "systems": {"read_from": str(paths[part]), "length_unit": "angstrom"},
            "targets": {
                "energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}
            },
        }
        if conditioned:
            values["extra_data"] = {
                "charge": {"key": "charge"},
                "spin_multiplicity": {"key": "spin_multiplicity"},
            }
        return values

    model = dict(PET_HYPERS)
    if conditioned:
        model["system_conditioning"] = True
    return {
        "seed": 0,
        "base_precision": 32,
        "architecture": {"name": "pet", "model": model, "training": training(args)},
        "training_set": section("train"),
        "validation_set": section("validation"),
        "test_set": section("test"),
    }


def state_errors(directory: Path, test_file: Path) -> Dict[str, float]:
    """Test energy and force MAE per charge state, the state set in
    ``atoms.info`` as an ASE user would."""
    calc = calculator(directory)
    energies: Dict[str, List[float]] = {name: [] for name in STATES.values()}
    forces: Dict[str, List[np.ndarray]] = {name: [] for name in STATES.values()}
    for atoms in ase.io.read(test_file, ":"):
        energy, force = atoms.get_potential_energy(), atoms.get_forces()
        state = STATES[int(atoms.info["charge"])]
        atoms.calc = calc
        energies[state].append(abs(atoms.get_potential_energy() - energy))
        forces[state].append(np.abs(atoms.get_forces() - force).ravel())
    errors = {}
    for state in STATES.values():
        errors[f"{state}_energy_mae"] = float(np.mean(energies[state]))
        errors[f"{state}_force_mae"] = float(np.mean(np.concatenate(forces[state])))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="JSON results")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="charge_states_bench_"))
    paths = write_split(work)
    runs = {
        "atomtrain": (ATOMTRAIN, True),
        "reference": (REFERENCE, True),
        "atomtrain_blind": (ATOMTRAIN, False),
    }
    results: Dict[str, Any] = {"epochs": args.epochs, "runs": {}}
    for name, (command, conditioned) in runs.items():
        directory = work / name
        config = options(paths, conditioned, args)
        seconds = train(command, directory, config, args.threads)
        errors = state_errors(directory, paths["test"])
        results["runs"][name] = {"train_seconds": seconds, **errors}
    report(results, args.output, work)


if __name__ == "__main__":
    main()
