"""SOAP-BPNN side by side with the reference implementation's ``soap_bpnn``.

Same hypers (the reference's defaults: ``max_angular`` 6, ``max_radial`` 7, cutoff 5 Å
with a 0.5 Å switching width, two hidden layers of 32 with layer normalisation, MLP
heads), same batch size, learning rate, epochs, precision (float32) and split of
``examples/data/ethanol_gfn2_1000.xyz`` (first 800 frames train, next 100 validation,
last 100 test; energy and forces in eV). Both are trained through their command
lines (``atomtrain train`` and ``mtt train``) in fresh processes, with the same number
of threads; both exported models are then evaluated here by the same code, through
``metatomic_ase.MetatomicCalculator``:

- whole ``train`` wall time (data loading, training, export);
- test force MAE (eV/Å) and energy MAE (eV);
- inference time per atom (energy + forces) on one ethanol molecule and on a periodic
  box of 64 water molecules (~1 g/cm³).

Ratios are atomtrain / reference (below 1: atomtrain is faster or more accurate).

    .venv/bin/python benchmarks/soap_bpnn_vs_reference.py [--epochs 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List

import ase
import ase.build
import ase.io
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data" / "ethanol_gfn2_1000.xyz"
ATOMTRAIN = ROOT / ".venv" / "bin" / "atomtrain"
REFERENCE = Path("/tmp/metatrain-ref/bin/mtt")


def write_split(directory: Path, data: Path = DATA) -> Dict[str, Path]:
    """The 800/100/100 split of the frames of ``data``, written in ``directory``."""
    frames = ase.io.read(data, ":")
    parts = {"train": frames[:800], "validation": frames[800:900], "test": frames[900:]}
    paths = {}
    for name, part in parts.items():
        paths[name] = directory / f"{name}.xyz"
        ase.io.write(paths[name], part)
    return paths


def options(paths: Dict[str, Path], epochs: int, batch_size: int) -> Dict[str, Any]:
    def section(path: Path) -> Dict[str, Any]:
        return {
            "systems": {"read_from": str(path), "length_unit": "angstrom"},
            "targets": {
                "energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}
            },
        }

    return {
        "seed": 0,
        "base_precision": 32,
        "architecture": {
            "name": "soap_bpnn",
            "training": {
                "num_epochs": epochs,
                "batch_size": batch_size,
                "learning_rate": 1e-3,
                "log_interval": 1,
                "checkpoint_interval": epochs + 1,
            },
        },
        "training_set": section(paths["train"]),
        "validation_set": section(paths["validation"]),
        "test_set": section(paths["test"]),
    }


def train(
    command: Path, directory: Path, config: Dict[str, Any], threads: int
) -> float:
    """Run ``<command> train options.yaml`` in ``directory``; its wall time."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "options.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    start = time.perf_counter()
    with (directory / "train.log").open("w") as log:
        subprocess.run(
            [
                str(command),
                "train",
                "options.yaml",
                "-o",
                "model.pt",
                "-e",
                "extensions",
            ],
            cwd=directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.perf_counter() - start


def write_shuffled_split(
    frames: List[ase.Atoms], directory: Path, train: float, validation: float
) -> Dict[str, Path]:
    """The ``train`` and ``validation`` fractions of the frames shuffled with seed 0,
    and the rest as the test set, written in ``directory``."""
    order = np.random.default_rng(0).permutation(len(frames))
    n_train, n_validation = int(train * len(frames)), int(validation * len(frames))
    parts = {
        "train": order[:n_train],
        "validation": order[n_train : n_train + n_validation],
        "test": order[n_train + n_validation :],
    }
    paths = {}
    for name, indices in parts.items():
        paths[name] = directory / f"{name}.xyz"
        ase.io.write(paths[name], [frames[i] for i in indices])
    return paths


def report(results: Dict[str, Any], output: Any, work: Path) -> None:
    """Add the ratios atomtrain / reference of every figure of both runs to
    ``results``, print them, and write them to ``output`` (a path or ``None``)."""
    ours, theirs = results["runs"]["atomtrain"], results["runs"]["reference"]
    results["ratio"] = {
        key: ours[key] / theirs[key] for key in ours if isinstance(ours[key], float)
    }
    print(json.dumps(results, indent=2))
    if output is not None:
        output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"work directory: {work}")


def calculator(directory: Path) -> Any:
    from metatomic_ase import MetatomicCalculator

    return MetatomicCalculator(
        str(directory / "model.pt"), extensions_directory=str(directory / "extensions")
    )


def test_errors(directory: Path, test_file: Path) -> Dict[str, float]:
    calc = calculator(directory)
    force_errors: List[np.ndarray] = []
    energy_errors: List[float] = []
    for atoms in ase.io.read(test_file, ":"):
        reference_energy = atoms.get_potential_energy()
        reference_forces = atoms.get_forces()
        atoms.calc = calc
        energy_errors.append(abs(atoms.get_potential_energy() - reference_energy))
        force_errors.append(np.abs(atoms.get_forces() - reference_forces).ravel())
    return {
        "energy_mae": float(np.mean(energy_errors)),
        "force_mae": float(np.mean(np.concatenate(force_errors))),
    }


def water_box(molecules: int = 64) -> ase.Atoms:
    """``molecules`` water molecules on a jittered cubic grid at ~1 g/cm³."""
    side = round(molecules ** (1 / 3))
    length = (molecules * 18.015 / 0.6022) ** (1 / 3)  # Å, at 1 g/cm³
    spacing = length / side
    rng = np.random.default_rng(0)
    box = ase.Atoms(cell=[length] * 3, pbc=True)
    for i in range(side):
        for j in range(side):
            for k in range(side):
                water = ase.build.molecule("H2O")
                water.rotate(rng.uniform(0, 360), rng.normal(size=3))
                water.translate((np.array([i, j, k]) + 0.5) * spacing)
                box += water
    return box


def inference_per_atom(directory: Path, atoms: ase.Atoms, repeats: int) -> float:
    """Seconds per atom of one energy + forces evaluation (median of ``repeats``)."""
    atoms = atoms.copy()
    atoms.calc = calculator(directory)
    atoms.get_forces()  # warm-up: TorchScript profiling runs
    atoms.get_forces()
    times = []
    for step in range(repeats):
        atoms.positions[0, 0] += 1e-4 * (-1) ** step
        start = time.perf_counter()
        atoms.get_forces()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / len(atoms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--output", type=Path, default=None, help="JSON results")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    # third-party noise of loading the exported models, the same for both
    warnings.filterwarnings("ignore", message=".*autograd kernel was not registered")
    warnings.filterwarnings("ignore", message=".*_mts_buffer_names")
    work = Path(tempfile.mkdtemp(prefix="soap_bpnn_bench_"))
    paths = write_split(work)
    config = options(paths, args.epochs, args.batch_size)
    molecule = ase.io.read(paths["test"], 0)
    water = water_box()
    results: Dict[str, Dict[str, float]] = {}
    for name, command in (("atomtrain", ATOMTRAIN), ("reference", REFERENCE)):
        directory = work / name
        seconds = train(command, directory, config, args.threads)
        results[name] = {
            "train_seconds": seconds,
            **test_errors(directory, paths["test"]),
        }
        for label, atoms in (("ethanol", molecule), ("water_box", water)):
            results[name][f"inference_{label}_us_per_atom"] = 1e6 * inference_per_atom(
                directory, atoms, args.repeats
            )
        print(name, json.dumps(results[name], indent=1), flush=True)

    print(
        f"\nethanol_gfn2_1000, 800/100/100, {args.epochs} epochs, batch "
        f"{args.batch_size}, float32, {args.threads} thread(s); work dir {work}"
    )
    print(f"{'':34}{'atomtrain':>12}{'reference':>12}{'ratio':>8}")
    for key in results["atomtrain"]:
        ours, theirs = results["atomtrain"][key], results["reference"][key]
        print(f"{key:34}{ours:12.4g}{theirs:12.4g}{ours / theirs:8.3f}")
    if args.output is not None:
        args.output.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
