"""PET side by side with the reference implementation's ``pet``.

Same hypers (``d_pet`` 64, ``d_head`` 64, ``d_node`` 128, ``d_feedforward`` 128,
``num_heads`` 4, two attention layers, two GNN layers, cutoff 4.5 Å; the rest at both
tools' defaults, which agree), batch 16, the same peak learning rate with linear
warm-up and cosine decay, the same epochs, float32, and the same split of
``examples/data/ethanol_gfn2_1000.xyz`` (first 800 frames train, next 100 validation,
last 100 test, written once and given to both as explicit sections; energy and forces
in eV). Both are trained through their command lines (``atomtrain train``, ``mtt
train``) in fresh processes, one after the other, with the same thread count; both
exported models are then evaluated here by the same code through
``metatomic_ase.MetatomicCalculator``:

- whole ``train`` wall time (reading data, training, export);
- test force MAE (eV/Å) and energy MAE (eV), and the force MAE of predicting zero
  forces, for scale;
- the number of parameters of each exported model;
- inference time of one energy + forces evaluation of an ethanol molecule and of a
  periodic box of 64 water molecules (192 atoms, ~1 g/cm³).

Ratios are atomtrain / reference (below 1: atomtrain is faster or more accurate). The
load average of the machine is printed next to the timings.

Modes::

    .venv/bin/python benchmarks/pet_vs_reference.py [--epochs 40] [--threads 1]
    .venv/bin/python benchmarks/pet_vs_reference.py --atomtrain-epochs 20
    .venv/bin/python benchmarks/pet_vs_reference.py --learning-curve \
        [--sizes 50,100,200,400,800] [--tools atomtrain,reference]
    .venv/bin/python benchmarks/pet_vs_reference.py --profile-step

``--atomtrain-epochs`` trains atomtrain for fewer epochs than the reference (with
its schedule compressed accordingly): the time each tool takes to reach a test
accuracy, when atomtrain's errors are still no larger.

``--profile-step`` times the phases of atomtrain's PET training step (data, forward
with forces, backward, optimiser) and the engine's whole step, whose difference is the
framework's overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List

import ase.io

from atomtrain.data.info import TargetInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soap_bpnn_vs_reference import (
    ATOMTRAIN,
    DATA,
    REFERENCE,
    inference_per_atom,
    test_errors,
    train,
    water_box,
    write_split,
)

HYPERS = {
    "d_pet": 64,
    "d_head": 64,
    "d_node": 128,
    "d_feedforward": 128,
    "num_heads": 4,
    "num_attention_layers": 2,
    "num_gnn_layers": 2,
    "cutoff": 4.5,
}
TOOLS = {"atomtrain": ATOMTRAIN, "reference": REFERENCE}

ENERGY = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))


def options(
    paths: Dict[str, Path], epochs: int, batch_size: int, learning_rate: float
) -> Dict[str, Any]:
    """The options file both tools read (the same grammar)."""

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
            "name": "pet",
            "model": dict(HYPERS),
            "training": {
                "num_epochs": epochs,
                "batch_size": batch_size,
                "learning_rate": learning_rate,
                "warmup_fraction": 0.01,
                "log_interval": 1,
                "checkpoint_interval": epochs + 1,
            },
        },
        "training_set": section(paths["train"]),
        "validation_set": section(paths["validation"]),
        "test_set": section(paths["test"]),
    }


def zero_force_mae(test_file: Path) -> float:
    """Mean absolute force of the test set: the MAE of predicting zero forces."""
    import numpy as np

    frames = ase.io.read(test_file, ":")
    return float(
        np.mean(np.concatenate([np.abs(a.get_forces()).ravel() for a in frames]))
    )


def load() -> float:
    return os.getloadavg()[0]


def parameter_count(directory: Path) -> int:
    """Parameters of the exported model: the same hypers do not give the same size
    (the reference runs each atom's central token through its own ``d_node``-wide
    feed-forward network; atomtrain keeps ``d_node`` features outside the
    transformer), so the sizes are printed next to the timings."""
    import metatomic.torch

    model = metatomic.torch.load_atomistic_model(
        str(directory / "model.pt"), extensions_directory=str(directory / "extensions")
    )
    return sum(parameter.numel() for parameter in model.parameters())


def compare(args: argparse.Namespace, work: Path, paths: Dict[str, Path]) -> None:
    """Train both tools on the full split; timings, errors and inference."""
    epochs = {"atomtrain": args.atomtrain_epochs or args.epochs}
    molecule = ase.io.read(paths["test"], 0)
    box = water_box(64)
    results: Dict[str, Dict[str, float]] = {}
    for name in args.tools:
        directory = work / name
        config = options(
            paths, epochs.get(name, args.epochs), args.batch_size, args.learning_rate
        )
        before = load()
        seconds = train(TOOLS[name], directory, config, args.threads)
        results[name] = {
            "train_seconds": seconds,
            "load_before_train": before,
            "load_after_train": load(),
            **test_errors(directory, paths["test"]),
            "parameters": parameter_count(directory),
        }
        for label, atoms in (("ethanol", molecule), ("water_box_192", box)):
            per_atom = inference_per_atom(directory, atoms, args.repeats)
            results[name][f"inference_{label}_ms"] = 1e3 * per_atom * len(atoms)
        results[name]["load_after_inference"] = load()
        print(name, json.dumps(results[name], indent=1), flush=True)

    if args.atomtrain_epochs:
        print(
            f"\ntime to accuracy: atomtrain trained {args.atomtrain_epochs} epochs, "
            f"the reference {args.epochs}"
        )
    print(
        f"\nethanol_gfn2_1000, 800/100/100, {args.epochs} epochs, batch "
        f"{args.batch_size}, lr {args.learning_rate}, float32, {args.threads} "
        f"thread(s); work dir {work}"
    )
    print(
        f"test force MAE of predicting zero forces: {zero_force_mae(paths['test']):.4f}"
    )
    if len(results) < 2:
        return
    print(f"{'':30}{'atomtrain':>12}{'reference':>12}{'ratio':>8}")
    for key in results["atomtrain"]:
        ours, theirs = results["atomtrain"][key], results["reference"][key]
        ratio = "" if key.startswith("load") else f"{ours / theirs:8.3f}"
        print(f"{key:30}{ours:12.4g}{theirs:12.4g}{ratio}")
    if args.output is not None:
        args.output.write_text(json.dumps(results, indent=1))


def learning_curve(
    args: argparse.Namespace, work: Path, paths: Dict[str, Path]
) -> None:
    """Test errors after training on the first ``size`` training frames."""
    frames = ase.io.read(paths["train"], ":")
    rows: List[str] = []
    for size in args.sizes:
        subset = dict(paths, train=work / f"train_{size}.xyz")
        ase.io.write(subset["train"], frames[:size])
        config = options(subset, args.epochs, args.batch_size, args.learning_rate)
        for name in args.tools:
            directory = work / f"{name}_{size}"
            seconds = train(TOOLS[name], directory, config, args.threads)
            errors = test_errors(directory, paths["test"])
            row = (
                f"{name:10}{size:6}{errors['force_mae']:12.4f}"
                f"{errors['energy_mae']:12.4f}{seconds:10.1f}{load():8.2f}"
            )
            print(row, flush=True)
            rows.append(row)
    print(
        f"\nlearning curve: sizes {args.sizes}, tools {args.tools}, {args.epochs} "
        f"epochs, batch {args.batch_size}, lr {args.learning_rate}, {args.threads} "
        f"thread(s); zero-force MAE {zero_force_mae(paths['test']):.4f}; work dir "
        f"{work}"
    )
    print(
        f"{'tool':10}{'size':>6}{'force MAE':>12}{'energy MAE':>12}"
        f"{'train s':>10}{'load':>8}"
    )
    print("\n".join(rows))


def ethanol_dataset(frames: str) -> Any:
    """GFN2 ethanol frames (energy and forces in eV) as an in-memory dataset."""
    import torch

    from atomtrain.data.dataset import InMemoryDataset
    from atomtrain.data.info import DatasetInfo
    from atomtrain.data.structure import Structure, TargetData

    structures = []
    for atoms in ase.io.read(DATA, frames):
        energy = torch.tensor([[atoms.get_potential_energy()]], dtype=torch.float64)
        forces = torch.tensor(atoms.get_forces())
        structures.append(
            Structure(
                types=torch.tensor(atoms.numbers, dtype=torch.int32),
                positions=torch.tensor(atoms.positions),
                cell=torch.zeros((3, 3), dtype=torch.float64),
                pbc=torch.zeros(3, dtype=torch.bool),
                targets={
                    "energy": TargetData([energy], {"positions": -forces[..., None]})
                },
            )
        )
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": ENERGY})
    return InMemoryDataset(
        structures, info, [(str(DATA), i) for i in range(len(structures))]
    )


def energy_force_loss(model: Any, batch: Any) -> Any:
    """Mean squared energy error plus mean squared force error of ``batch``, with
    the forces differentiable again (a training step's loss)."""
    from atomtrain.training.predict import predict

    block = predict(model, batch, {"energy": ENERGY}, training=True)["energy"].block()
    labels = batch.targets["energy"].block()
    energy = (block.values - labels.values).pow(2).mean()
    forces = block.gradient("positions").values - labels.gradient("positions").values
    return energy + forces.pow(2).mean()


def profile_step(batch_size: int, steps: int = 20) -> None:
    """Milliseconds per training step of atomtrain's PET in each phase, and of the
    engine's whole step (epochs of 2 and 3 steps' worth subtracted)."""
    import torch

    from atomtrain.architectures.hypers import get_defaults
    from atomtrain.data.batching import BatchBuilder
    from atomtrain.data.neighbors import NeighborCache
    from atomtrain.pet import PET, Trainer

    dataset = ethanol_dataset(f":{batch_size * (steps + 2)}")
    defaults = get_defaults("pet")
    torch.manual_seed(0)
    model = PET({**defaults["model"], **HYPERS}, dataset.info).to(torch.float32)
    model.train()
    model.baseline_enabled = False
    trainer = Trainer(defaults["training"])
    trainer.before_training(model, [dataset], dataset.info)
    build = BatchBuilder(
        model.requested_neighbor_lists(),
        {"energy": ENERGY},
        {},
        torch.float32,
        torch.device("cpu"),
        NeighborCache(),
        transform=trainer.transform_structure(),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    phases = dict.fromkeys(["data", "forward", "backward", "optimizer"], 0.0)
    for step in range(steps + 2):
        start = time.perf_counter()
        batch = build(
            dataset, range(step * batch_size, (step + 1) * batch_size), ["positions"]
        )
        built = time.perf_counter()
        loss = energy_force_loss(model, batch)
        predicted = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        backward = time.perf_counter()
        optimizer.step()
        end = time.perf_counter()
        if step >= 2:  # the first steps warm up allocators and caches
            for key, value in zip(
                phases,
                [
                    built - start,
                    predicted - built,
                    backward - predicted,
                    end - backward,
                ],
            ):
                phases[key] += value / steps
    engine = engine_step_seconds(dataset, batch_size, steps)
    total = sum(phases.values())
    print(
        f"PET training step, batch {batch_size}, float32, "
        f"{torch.get_num_threads()} thread(s), load {load():.2f}"
    )
    for key, value in phases.items():
        print(f"  {key:12}{1e3 * value:8.1f} ms")
    print(f"  {'sum':12}{1e3 * total:8.1f} ms")
    print(
        f"  {'engine step':12}{1e3 * engine:8.1f} ms (framework overhead "
        f"{1e3 * (engine - total):.1f} ms)"
    )


def engine_step_seconds(dataset: Any, batch_size: int, steps: int) -> float:
    """Seconds per step of the shared engine: a 3-epoch run minus a 2-epoch one, per
    step (setup and the validation of a single structure cancel out)."""
    import logging

    import torch

    from atomtrain.architectures.hypers import get_defaults
    from atomtrain.pet import PET, Trainer

    logging.disable(logging.INFO)
    defaults = get_defaults("pet")
    train_set = dataset.subset(range(batch_size * steps))
    val_set = dataset.subset(range(batch_size * steps, batch_size * steps + 1))
    seconds = []
    for epochs in (2, 3):
        torch.manual_seed(0)
        model = PET({**defaults["model"], **HYPERS}, dataset.info)
        hypers = {
            **defaults["training"],
            "num_epochs": epochs,
            "batch_size": batch_size,
        }
        start = time.perf_counter()
        Trainer(hypers).train(
            model,
            torch.float32,
            [torch.device("cpu")],
            [train_set],
            [val_set],
            tempfile.mkdtemp(),
        )
        seconds.append(time.perf_counter() - start)
    logging.disable(logging.NOTSET)
    return (seconds[1] - seconds[0]) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument(
        "--atomtrain-epochs",
        type=int,
        default=None,
        help="train atomtrain for this many epochs instead of --epochs (time to "
        "the reference's accuracy)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--tools", type=lambda s: s.split(","), default=["atomtrain", "reference"]
    )
    parser.add_argument("--learning-curve", action="store_true")
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[50, 100, 200, 400, 800],
    )
    parser.add_argument("--profile-step", action="store_true")
    parser.add_argument("--output", type=Path, default=None, help="JSON results")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    if args.profile_step:
        profile_step(args.batch_size)
        return
    # third-party noise of loading the exported models, the same for both
    warnings.filterwarnings("ignore", message=".*autograd kernel was not registered")
    warnings.filterwarnings("ignore", message=".*_mts_buffer_names")
    work = Path(tempfile.mkdtemp(prefix="pet_bench_"))
    paths = write_split(work)
    if args.learning_curve:
        learning_curve(args, work, paths)
    else:
        compare(args, work, paths)


if __name__ == "__main__":
    main()
