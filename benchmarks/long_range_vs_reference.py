"""Long-range electrostatics side by side with the reference implementation: PET
learning the GFN2-xTB energies and forces of pairs of molecular ions 3 to 15 Å apart,
with and without its long-range part, and the reference's PET with its own.

Data: ``examples/data/ion_pairs_gfn2.xyz`` (see ``examples/data/README.md``): two
charged fragments whose interaction, about ``±14.4 / r`` eV at a separation of ``r``
Å, is still 1 eV at 15 Å. PET's ``cutoff`` of 4.5 Å and two message-passing layers see
9 Å around each atom: beyond that, a short-range model cannot tell two separations
apart. The frames are shuffled (seed 0) and split 60/10/30 % into training,
validation and test sets.

Runs, each through its command line in a fresh process, one after the other, with
the same options (PET at the hypers of ``pet_vs_reference.py``, float32, batch
size, learning rate, epochs):

- ``atomtrain``: ``long_range: {enable: true}`` (the reference's defaults
  otherwise);
- ``reference``: the same options file, read by ``mtt train`` (the reference
  environment needs ``pip install torch-pme``);
- ``atomtrain_short_range``: atomtrain without the long-range part.

Each exported model is then evaluated here by the same code, through
``metatomic_ase.MetatomicCalculator``: test energy MAE per structure in bins of the
separation, force MAE, and the whole ``train`` wall time. The plot of the energy
error against the separation is written beside the results (``--plot``).

Measured on 2026-12-06 with the defaults (30 epochs, batch 8, learning rate 1e-3,
one thread, an otherwise idle machine; kept as
``benchmarks/results/long_range_pet.json``), test MAE, energies in eV per
structure (by separation bin, Å) and forces in eV/Å::

                       wall    energy  force   3-5    5-7    7-9    9-11   11-13  13-15
    atomtrain          189 s   0.270   0.107   0.569  0.267  0.144  0.164  0.249  0.259
    reference          284 s   0.335   0.204   0.326  0.387  0.220  0.319  0.370  0.398
    ratio              0.66    0.80    0.52
    atomtrain, short   185 s   0.507   0.112   0.905  0.611  0.224  0.244  0.492  0.665

The long-range part costs 2 % of the training time here (184.5 → 188.8 s) and
halves the energy error beyond 11 Å; the wall-time ratio is that of PET's steps.

    .venv/bin/python benchmarks/long_range_vs_reference.py [--epochs 30]
        [--threads 1] [--output results.json] [--plot separation.png]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path
from typing import Any, Dict, List

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
from tensor_targets_vs_reference import PET_HYPERS, training

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data" / "ion_pairs_gfn2.xyz"
#: Edges of the separation bins, in Å.
BINS = [3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0]


def write_split(directory: Path) -> Dict[str, Path]:
    """Training, validation and test files: 60/10/30 % of the shuffled frames."""
    return write_shuffled_split(ase.io.read(DATA, ":"), directory, 0.6, 0.1)


def options(
    paths: Dict[str, Path], long_range: bool, args: argparse.Namespace
) -> Dict[str, Any]:
    def section(part: str) -> Dict[str, Any]:
        return {
            "systems": {"read_from": str(paths[part]), "length_unit": "angstrom"},
            "targets": {
                "energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}
            },
        }

    model: Dict[str, Any] = dict(PET_HYPERS)
    if long_range:
        model["long_range"] = {"enable": True}
    return {
        "seed": 0,
        "base_precision": 32,
        "architecture": {"name": "pet", "model": model, "training": training(args)},
        "training_set": section("train"),
        "validation_set": section("validation"),
        "test_set": section("test"),
    }


def separation_errors(directory: Path, test_file: Path) -> Dict[str, Any]:
    """Test energy MAE per separation bin and over all frames, and force MAE."""
    calc = calculator(directory)
    separations: List[float] = []
    energies: List[float] = []
    forces: List[np.ndarray] = []
    for atoms in ase.io.read(test_file, ":"):
        energy, force = atoms.get_potential_energy(), atoms.get_forces()
        separations.append(float(atoms.info["separation"]))
        atoms.calc = calc
        energies.append(abs(atoms.get_potential_energy() - energy))
        forces.append(np.abs(atoms.get_forces() - force).ravel())
    bins = np.digitize(separations, BINS[1:-1])
    errors = np.array(energies)
    return {
        "energy_mae": float(errors.mean()),
        "force_mae": float(np.mean(np.concatenate(forces))),
        "energy_mae_by_separation": [
            float(errors[bins == b].mean()) for b in range(len(BINS) - 1)
        ],
        "frames_by_separation": [int((bins == b).sum()) for b in range(len(BINS) - 1)],
    }


def plot(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centres = [(a + b) / 2 for a, b in itertools.pairwise(BINS)]
    figure, axis = plt.subplots(figsize=(5.5, 3.8))
    for name, run in results["runs"].items():
        axis.plot(centres, run["energy_mae_by_separation"], "o-", label=name)
    axis.axvline(2 * PET_HYPERS["cutoff"], color="gray", linestyle=":")
    axis.set_xlabel("separation of the two ions [Å]")
    axis.set_ylabel("test energy MAE [eV]")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="JSON results")
    parser.add_argument("--plot", type=Path, default=None, help="PNG of the errors")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="long_range_bench_"))
    paths = write_split(work)
    runs = {
        "atomtrain": (ATOMTRAIN, True),
        "reference": (REFERENCE, True),
        "atomtrain_short_range": (ATOMTRAIN, False),
    }
    results: Dict[str, Any] = {"epochs": args.epochs, "bins": BINS, "runs": {}}
    for name, (command, long_range) in runs.items():
        directory = work / name
        config = options(paths, long_range, args)
        seconds = train(command, directory, config, args.threads)
        errors = separation_errors(directory, paths["test"])
        results["runs"][name] = {"train_seconds": seconds, **errors}
    report(results, args.output, work)
    if args.plot is not None:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
