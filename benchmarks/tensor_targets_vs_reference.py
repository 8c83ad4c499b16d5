"""Tensor targets side by side with the reference implementation: SOAP-BPNN and PET
learning GFN2-xTB dipoles of ethanol (a spherical λ = 1 target) and QM7-X
polarizabilities (λ0 ⊕ λ2, declared as a spherical target and as a Cartesian rank-2
one).

Data:

- ``dipoles``: ``examples/data/ethanol_gfn2_dipoles_1000.xyz`` (``dipole_spherical``,
  e·Å), first 800 frames train, next 100 validation, last 100 test;
- ``polarizability``: ``examples/data/qm7x_polarizability_100.xyz`` (bohr³), first 80
  molecules train, next 10 validation, last 10 test; ``polarizability_spherical``
  for the spherical form, ``polarizability`` (3 by 3) for the Cartesian one.

Both tools train each architecture with the same options file (batch size, learning
rate, epochs, float32; PET at the hypers of ``pet_vs_reference.py``, SOAP-BPNN at the
reference's defaults) through their command lines (``atomtrain train`` and ``mtt
train``) in fresh processes, one after the other, with the same number of threads.
Each exported model is then evaluated here by the same code, through
``metatomic_ase.MetatomicCalculator.run_model``:

- whole ``train`` wall time (data loading, training, export);
- test MAE of each irrep's components (a Cartesian prediction is decomposed into its
  spherical parts first, so that both forms are compared on the same numbers);
- equivariance error: every test structure moved by random rotations (and by the
  same rotations composed with the inversion), the largest deviation of the
  prediction for the moved structure from the moved prediction, relative to the
  largest predicted component (100 moved structures in all).

Ratios are atomtrain / reference (below 1: atomtrain is faster or more accurate).

Measured on 2026-12-05, ``--task dipoles --architectures soap_bpnn --epochs 10``
(batch 8, learning rate 1e-3, one thread, an otherwise idle machine; kept as
``benchmarks/results/tensor_targets_dipoles.json``)::

                      train wall   test dipole MAE   rotation / improper error
    atomtrain         16.7 s       0.00353 e·Å       6.8e-7 / 6.8e-7
    reference         34.2 s       0.00621 e·Å       3.5e-7 / 3.5e-7
    ratio             0.49         0.57

(mean absolute dipole component of the test frames: 0.212 e·Å; both models in
float32, so their equivariance errors are rounding.) The same for PET on
2026-12-06, ``--task dipoles --architectures pet --epochs 10`` (kept in the same
file)::

                      train wall   test dipole MAE   rotation / improper error
    atomtrain         49.4 s       0.00908 e·Å       0.0098 / 0.0105
    reference         76.9 s       0.01863 e·Å       0.081 / 0.094
    ratio             0.64         0.49

(PET learns its invariance from rotated structures in both tools, so neither is
exactly equivariant; atomtrain's equivariant basis keeps the error eight times
smaller.)

Measured on 2026-12-05 (SOAP-BPNN) and 2026-12-06 (PET), ``--task polarizability
--architectures soap_bpnn pet --epochs 20`` (same settings; kept as
``benchmarks/results/tensor_targets_polarizability.json``; 10 test molecules, so the
errors are indicative): test MAE in bohr³ of the λ = 0 and λ = 2 components, and the
rotation error of the exported model::

                          train wall      λ0 MAE         λ2 MAE         rotation
                          at. / ref.      at. / ref.     at. / ref.     at. / ref.
    soap_bpnn spherical   8.6 / 21.5 s    1.05 / 1.39    1.60 / 1.53    1e-7 / 1e-7
    soap_bpnn Cartesian   11.9 / 26.6 s   1.35 / 3.57    1.34 / 2.41    1e-7 / 3e-7
    pet spherical         20.6 / 28.2 s   3.00 / 2.99    2.01 / 3.19    0.010 / 0.15
    pet Cartesian         19.4 / 26.8 s   3.09 / 5.03    1.39 / 3.21    0.004 / 0.14

(mean absolute component 45 bohr³, mostly the λ0 part.) Both architectures learn a
Cartesian rank-2 tensor as its spherical parts. Before PET's model checkpoint
version 6, PET learned its nine components independently with rotational
augmentation (``cartesian_heads: components``, still available): 3.59 bohr³ on λ0,
14.2 on λ2 and a rotation error of 0.25 (2026-12-05), ten times worse on λ2.

    .venv/bin/python benchmarks/tensor_targets_vs_reference.py
        [--task dipoles|polarizability] [--architectures soap_bpnn pet]
        [--epochs 10] [--threads 1] [--output results.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

import ase.io
import numpy as np
from soap_bpnn_vs_reference import ATOMTRAIN, REFERENCE, calculator, train

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from atomtrain.modules.equivariant import cartesian_matrix  # noqa: E402

TARGET = "mtt::target"
#: PET at the hypers of ``pet_vs_reference.py`` (both tools' names).
PET_HYPERS = {
    "d_pet": 64,
    "d_head": 64,
    "d_node": 128,
    "d_feedforward": 128,
    "num_heads": 4,
    "num_attention_layers": 2,
    "num_gnn_layers": 2,
    "cutoff": 4.5,
}
#: Per task: data file, split sizes, unit, and per form the key and target type.
TASKS: Dict[str, Dict[str, Any]] = {
    "dipoles": {
        "data": ROOT / "examples" / "data" / "ethanol_gfn2_dipoles_1000.xyz",
        "split": (800, 100, 100),
        "unit": "e*angstrom",
        "forms": {
            "spherical": ("dipole_spherical", [(1, 1)]),
        },
    },
    "polarizability": {
        "data": ROOT / "examples" / "data" / "qm7x_polarizability_100.xyz",
        "split": (80, 10, 10),
        "unit": "",
        "forms": {
            "spherical": ("polarizability_spherical", [(0, 1), (2, 1)]),
            "cartesian": ("polarizability", None),
        },
    },
}


def write_split(directory: Path, task: Dict[str, Any]) -> Dict[str, Path]:
    frames = ase.io.read(task["data"], ":")
    n_train, n_val, n_test = task["split"]
    parts = {
        "train": frames[:n_train],
        "validation": frames[n_train : n_train + n_val],
        "test": frames[n_train + n_val : n_train + n_val + n_test],
    }
    paths = {}
    for name, part in parts.items():
        paths[name] = directory / f"{name}.xyz"
        ase.io.write(paths[name], part)
        key, irreps = task["forms"]["spherical"]
        if len(irreps) > 1:
            # the reference reads spherical targets of several irreps from
            # metatensor files only; both tools read the same ones
            paths[f"{name}_spherical"] = directory / f"{name}_spherical.mts"
            write_spherical(paths[f"{name}_spherical"], part, key, irreps)
    return paths


def write_spherical(
    path: Path, frames: List[ase.Atoms], key: str, irreps: List[Tuple[int, int]]
) -> None:
    """The spherical values ``info[key]`` of ``frames`` (irreps one after the
    other) as a TensorMap file, one block per irrep, samples ``system``."""
    import torch
    from metatensor.torch import Labels, TensorBlock, TensorMap, save

    values = torch.tensor(np.array([a.info[key] for a in frames]), dtype=torch.float64)
    blocks, start = [], 0
    for lam, _ in irreps:
        size = 2 * lam + 1
        mu = torch.arange(-lam, lam + 1, dtype=torch.int32).reshape(-1, 1)
        blocks.append(
            TensorBlock(
                values[:, start : start + size].reshape(-1, size, 1).contiguous(),
                Labels.range("system", len(frames)),
                [Labels(["o3_mu"], mu)],
                Labels.range("n", 1),
            )
        )
        start += size
    keys = Labels(["o3_lambda", "o3_sigma"], torch.tensor(irreps, dtype=torch.int32))
    save(str(path), TensorMap(keys, blocks))


def training(args: argparse.Namespace) -> Dict[str, Any]:
    """The trainer options both tools run with: epochs and batch size of the
    command line, learning rate 1e-3, a log line per epoch, no checkpoint on the
    way."""
    return {
        "num_epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": 1e-3,
        "log_interval": 1,
        "checkpoint_interval": args.epochs + 1,
    }


def options(
    paths: Dict[str, Path],
    task: Dict[str, Any],
    form: str,
    architecture: str,
    args: argparse.Namespace,
) -> Dict[str, Any]:
    key, irreps = task["forms"][form]
    if irreps is None:
        kind: Any = {"cartesian": {"rank": 2}}
    else:
        listed = [{"o3_lambda": lam, "o3_sigma": sigma} for lam, sigma in irreps]
        kind = {"spherical": {"irreps": listed}}
    target = {"key": key, "unit": task["unit"], "type": kind}

    def section(part: str) -> Dict[str, Any]:
        values = dict(target)
        if f"{part}_spherical" in paths and form == "spherical":
            values.update(
                read_from=str(paths[f"{part}_spherical"]), reader="metatensor"
            )
        return {
            "systems": {"read_from": str(paths[part]), "length_unit": "angstrom"},
            "targets": {TARGET: values},
        }

    config: Dict[str, Any] = {
        "seed": 0,
        "base_precision": 32,
        "architecture": {"name": architecture, "training": training(args)},
        "training_set": section("train"),
        "validation_set": section("validation"),
        "test_set": section("test"),
    }
    if architecture == "pet":
        config["architecture"]["model"] = dict(PET_HYPERS)
    return config


def spherical_parts(values: np.ndarray, form: str, task: Dict[str, Any]) -> np.ndarray:
    """``[n, 9]`` Cartesian (row-major) or ``[n, Σ(2λ+1)]`` spherical values as the
    concatenated spherical components of the task's irreps."""
    if form == "spherical":
        return values
    spherical = values @ cartesian_matrix(2).numpy()  # (λ0, λ1 σ=−1, λ2)
    return np.concatenate([spherical[:, :1], spherical[:, 4:]], axis=1)


def as_cartesian(values: np.ndarray, form: str, task: Dict[str, Any]) -> np.ndarray:
    """Predictions as Cartesian tensors ``[n, 3]`` or ``[n, 3, 3]`` (to rotate)."""
    _, irreps = task["forms"]["spherical"]
    if form == "cartesian":
        return values.reshape(-1, 3, 3)
    if irreps == [(1, 1)]:
        return values[:, [2, 0, 1]]
    full = np.concatenate(
        [values[:, :1], np.zeros((len(values), 3)), values[:, 1:]], axis=1
    )
    return (full @ cartesian_matrix(2).numpy().T).reshape(-1, 3, 3)


def predict(directory: Path, frames: List[ase.Atoms], unit: str) -> np.ndarray:
    """The model's predictions ``[n, components]``, blocks concatenated."""
    from metatomic.torch import ModelOutput

    output = ModelOutput(unit=unit, sample_kind="system")
    model = calculator(directory)
    values = []
    for atoms in frames:
        result = model.run_model([atoms], {TARGET: output})[TARGET]
        blocks = [result.block(i).values.detach().numpy() for i in range(len(result))]
        values.append(np.concatenate([b[0].reshape(-1) for b in blocks]))
    return np.array(values)


def moved(
    frames: List[ase.Atoms], count: int, seed: int = 0
) -> Tuple[List[ase.Atoms], List[int], np.ndarray]:
    """``count`` copies of ``frames`` (cycling), each rotated at random: the copies,
    the frame each comes from and the rotation matrices."""
    from scipy.spatial.transform import Rotation

    matrices = Rotation.random(count, random_state=seed).as_matrix()
    origins = [i % len(frames) for i in range(count)]
    copies = []
    for origin, matrix in zip(origins, matrices):
        copy = frames[origin].copy()
        copy.positions = frames[origin].positions @ matrix.T
        copies.append(copy)
    return copies, origins, matrices


def equivariance_errors(
    directory: Path, frames: List[ase.Atoms], form: str, task: Dict[str, Any]
) -> Dict[str, float]:
    predicted = as_cartesian(predict(directory, frames, task["unit"]), form, task)
    errors = {}
    for name, sign in (("rotation", 1.0), ("improper_rotation", -1.0)):
        copies, origins, matrices = moved(frames, 100)
        for copy in copies:
            copy.positions = sign * copy.positions
        after = as_cartesian(predict(directory, copies, task["unit"]), form, task)
        before = predicted[origins]
        if before.ndim == 2:  # a proper vector: R v, and −v under the inversion
            expected = np.einsum("nab,nb->na", sign * matrices, before)
        else:  # a proper rank-2 tensor: R T Rᵀ, unchanged by the inversion
            expected = np.einsum("nab,nbc,ndc->nad", matrices, before, matrices)
        deviation = np.abs(after - expected).max()
        errors[f"{name}_error"] = float(deviation / np.abs(predicted).max())
    return errors


def evaluate(
    directory: Path, test_file: Path, form: str, task: Dict[str, Any]
) -> Dict[str, float]:
    frames = ase.io.read(test_file, ":")
    key, _ = task["forms"][form]
    labels = np.array([np.asarray(a.info[key], dtype=float) for a in frames])
    predicted = predict(directory, frames, task["unit"])
    errors = np.abs(
        spherical_parts(predicted, form, task) - spherical_parts(labels, form, task)
    )
    _, irreps = task["forms"]["spherical"]
    results = {}
    start = 0
    for lam, sigma in irreps:
        size = 2 * lam + 1
        results[f"mae_{lam}_{sigma}"] = float(errors[:, start : start + size].mean())
        start += size
    return {**results, **equivariance_errors(directory, frames, form, task)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="dipoles")
    parser.add_argument("--architectures", nargs="+", default=["soap_bpnn"])
    parser.add_argument("--forms", nargs="+", default=None, help="default: all")
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
    task = TASKS[args.task]
    work = Path(tempfile.mkdtemp(prefix="tensor_targets_bench_"))
    paths = write_split(work, task)
    results: Dict[str, Any] = {}
    for architecture in args.architectures:
        for form in args.forms or list(task["forms"]):
            run: Dict[str, Dict[str, float]] = {}
            for tool, command in (("atomtrain", ATOMTRAIN), ("reference", REFERENCE)):
                directory = work / f"{architecture}_{form}_{tool}"
                config = options(paths, task, form, architecture, args)
                seconds = train(command, directory, config, args.threads)
                scores = evaluate(directory, paths["test"], form, task)
                run[tool] = {"train_seconds": seconds, **scores}
            run["ratio"] = {
                key: run["atomtrain"][key] / run["reference"][key]
                for key in run["atomtrain"]
                if key == "train_seconds" or key.startswith("mae")
            }
            results[f"{architecture}_{form}"] = run
            print(json.dumps({f"{architecture}_{form}": run}, indent=2), flush=True)
    key, _ = task["forms"]["spherical"]
    test = [np.asarray(a.info[key]) for a in ase.io.read(paths["test"], ":")]
    summary = {
        "task": args.task,
        "epochs": args.epochs,
        "runs": results,
        "mean_absolute_component": float(np.abs(np.concatenate(test)).mean()),
    }
    print(json.dumps(summary, indent=2))
    print(f"work directory: {work}")
    if args.output is not None:
        args.output.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
