"""Spherical targets side by side with the reference implementation: SOAP-BPNN
learning GFN2-xTB dipoles of ethanol as a spherical λ = 1 target.

Data: ``examples/data/ethanol_gfn2_dipoles_1000.xyz`` (``dipole_spherical``, e·Å),
the split of the other benchmarks (first 800 frames train, next 100 validation, last
100 test). Both tools train ``soap_bpnn`` with the same options file (the
reference's default hypers, batch size, learning rate, epochs, float32) through their
command lines (``atomtrain train`` and ``mtt train``) in fresh processes, with the
same number of threads. Both exported models are then evaluated here by the same
code, through ``metatomic_ase.MetatomicCalculator.run_model``:

- whole ``train`` wall time (data loading, training, export);
- test MAE of the dipole components (e·Å);
- equivariance error: each of the 100 test structures rotated by a random rotation
  (and, for the improper case, composed with the inversion), the largest deviation
  of the prediction for the moved structure from the moved prediction, relative to
  the largest predicted component.

Ratios are atomtrain / reference (below 1: atomtrain is faster or more accurate).

Measured on 2026-12-05, ``--epochs 10`` (batch 8, learning rate 1e-3, one thread,
one training after the other on an otherwise idle machine; ``--output`` kept as
``benchmarks/results/tensor_targets_dipoles.json``)::

                      train wall   test dipole MAE   rotation / improper error
    atomtrain         16.7 s       0.00353 e·Å       6.8e-7 / 6.8e-7
    reference         34.2 s       0.00621 e·Å       3.5e-7 / 3.5e-7
    ratio             0.49         0.57

(mean absolute dipole component of the test frames: 0.212 e·Å; both models in
float32, so their equivariance errors are rounding.)

    .venv/bin/python benchmarks/tensor_targets_vs_reference.py [--epochs 10]
        [--threads 1] [--output results.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List

import ase.io
import numpy as np
from soap_bpnn_vs_reference import (
    ATOMTRAIN,
    REFERENCE,
    calculator,
    train,
    write_split,
)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data" / "ethanol_gfn2_dipoles_1000.xyz"
TARGET = "mtt::dipole"
#: The Cartesian x, y, z among the spherical components o3_mu = -1, 0, 1.
XYZ = [2, 0, 1]


def options(paths: Dict[str, Path], epochs: int, batch_size: int) -> Dict[str, Any]:
    def section(path: Path) -> Dict[str, Any]:
        irreps = [{"o3_lambda": 1, "o3_sigma": 1}]
        target = {
            "key": "dipole_spherical",
            "unit": "e*angstrom",
            "type": {"spherical": {"irreps": irreps}},
        }
        return {
            "systems": {"read_from": str(path), "length_unit": "angstrom"},
            "targets": {TARGET: target},
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


def predicted_dipoles(directory: Path, frames: List[ase.Atoms]) -> np.ndarray:
    """The model's dipoles ``[n, 3]`` (Cartesian x, y, z) of ``frames``."""
    from metatomic.torch import ModelOutput

    output = ModelOutput(unit="e*angstrom", sample_kind="system")
    values = []
    model = calculator(directory)
    for atoms in frames:
        result = model.run_model([atoms], {TARGET: output})
        block = result[TARGET].block()
        values.append(block.values.detach().numpy()[0, :, 0][XYZ])
    return np.array(values)


def rotations(count: int, seed: int = 0) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.random(count, random_state=seed).as_matrix()


def evaluate(directory: Path, test_file: Path) -> Dict[str, float]:
    frames = ase.io.read(test_file, ":")
    labels = np.array([atoms.info["dipole_spherical"][XYZ] for atoms in frames])
    predicted = predicted_dipoles(directory, frames)
    matrices = rotations(len(frames))
    errors = {}
    for name, sign in (("rotation", 1.0), ("improper_rotation", -1.0)):
        moved = []
        for atoms, matrix in zip(frames, matrices):
            copy = atoms.copy()
            copy.positions = atoms.positions @ (sign * matrix).T
            moved.append(copy)
        expected = np.einsum("nab,nb->na", sign * matrices, predicted)
        deviation = np.abs(predicted_dipoles(directory, moved) - expected).max()
        errors[f"{name}_error"] = float(deviation / np.abs(predicted).max())
    return {"dipole_mae": float(np.abs(predicted - labels).mean()), **errors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=None, help="JSON results")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    # third-party noise of loading the exported models, the same for both
    warnings.filterwarnings("ignore", message=".*autograd kernel was not registered")
    warnings.filterwarnings("ignore", message=".*_mts_buffer_names")
    work = Path(tempfile.mkdtemp(prefix="tensor_targets_bench_"))
    paths = write_split(work, DATA)
    config = options(paths, args.epochs, args.batch_size)
    results: Dict[str, Dict[str, float]] = {}
    for name, command in (("atomtrain", ATOMTRAIN), ("reference", REFERENCE)):
        directory = work / name
        seconds = train(command, directory, config, args.threads)
        results[name] = {"train_seconds": seconds, **evaluate(directory, paths["test"])}
    mean_component = float(
        np.abs(
            [a.info["dipole_spherical"] for a in ase.io.read(paths["test"], ":")]
        ).mean()
    )
    ratios = {
        key: results["atomtrain"][key] / results["reference"][key]
        for key in ("train_seconds", "dipole_mae")
    }
    summary = {**results, "ratio": ratios, "mean_absolute_component": mean_component}
    print(json.dumps(summary, indent=2))
    print(f"work directory: {work}")
    if args.output is not None:
        args.output.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
