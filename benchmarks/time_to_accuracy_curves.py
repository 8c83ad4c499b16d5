"""Learning curves for ``time_to_accuracy.py``: read from each tool's own logs,
test errors of the weights of every epoch, time to reach an error, and the plot.

Energies are MAE per atom (meV/atom), forces MAE (eV/Å), as both tools log them.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import ase.io
import numpy as np


@dataclass
class Curve:
    """One tool's errors after each epoch: ``seconds`` since its process started."""

    epochs: List[int] = field(default_factory=list)
    seconds: List[float] = field(default_factory=list)
    val_force: List[float] = field(default_factory=list)
    val_energy: List[float] = field(default_factory=list)
    test_force: Dict[int, float] = field(default_factory=dict)
    test_energy: Dict[int, float] = field(default_factory=dict)

    def add(self, epoch: int, seconds: float, force: float, energy: float) -> None:
        self.epochs.append(epoch)
        self.seconds.append(seconds)
        self.val_force.append(force)
        self.val_energy.append(energy)


def _run_directory(directory: Path) -> Path:
    return next((directory / "outputs").glob("*/*"))


def atomtrain_curve(directory: Path, started: float) -> Curve:
    """From ``train.csv`` (errors) and ``train.log`` (the time of each epoch line,
    to the second)."""
    run = _run_directory(directory)
    times: Dict[int, float] = {}
    pattern = re.compile(r"^(\S+ \S+) epoch +(\d+) \|")
    for line in (run / "train.log").read_text().splitlines():
        match = pattern.match(line)
        if match:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
            times[int(match.group(2))] = stamp.timestamp() - started
    curve = Curve()
    with (run / "train.csv").open() as file:
        for row in csv.DictReader(file):
            if row["epoch"].isdigit() and int(row["epoch"]) in times:
                curve.add(
                    int(row["epoch"]),
                    times[int(row["epoch"])],
                    float(row["val.energy.forces.mae"]),
                    1e3 * float(row["val.energy.mae"]),
                )
    return curve


def mace_curve(directory: Path, started: float) -> Curve:
    """From ``results/*_train.txt`` (errors) and the log (the time of each
    epoch's line, to the millisecond)."""
    times: Dict[int, float] = {}
    pattern = re.compile(r"^(\S+ \S+) INFO: Epoch (\d+): head")
    log = next((directory / "logs").glob("*_run-*[0-9].log"))
    for line in log.read_text().splitlines():
        match = pattern.match(line)
        if match:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f")
            times.setdefault(int(match.group(2)), stamp.timestamp() - started)
    curve = Curve()
    results = next((directory / "results").glob("*_train.txt"))
    for line in results.read_text().splitlines():
        entry = json.loads(line)
        epoch = entry.get("epoch")
        fresh = epoch is not None and epoch in times and epoch not in curve.epochs
        if entry["mode"] == "eval" and fresh:
            curve.add(
                epoch,
                times[epoch],
                entry["mae_f"],
                1e3 * entry["mae_e_per_atom"],
            )
    return curve


def _ase_errors(calc: Any, frames: List[Any]) -> Tuple[float, float]:
    """Force MAE (eV/Å) and energy MAE per atom (meV/atom) of ``calc`` on
    ``frames`` (with their reference energies and forces)."""
    forces, energies = [], []
    for frame in frames:
        atoms = frame.copy()
        atoms.calc = calc
        error = atoms.get_forces() - frame.get_forces()
        forces.append(np.abs(error).ravel())
        energy_error = atoms.get_potential_energy() - frame.get_potential_energy()
        energies.append(abs(energy_error) / len(atoms))
    return float(np.mean(np.concatenate(forces))), 1e3 * float(np.mean(energies))


def tested_epochs(curve: Curve, count: int) -> List[int]:
    """About ``count`` epochs of ``curve``, evenly spaced on a log scale, and the
    last one: the test errors of every epoch would take longer than training."""
    if not curve.epochs:
        return []
    spaced = np.geomspace(1, len(curve.epochs), count).round().astype(int) - 1
    return sorted({curve.epochs[i] for i in spaced} | {curve.epochs[-1]})


def atomtrain_test_curve(curve: Curve, directory: Path, test: Path, count: int) -> None:
    """Test errors of the weights some epochs validated with (EMA where on), by
    atomtrain's own evaluation (in batches, without TorchScript)."""
    from atomtrain.architectures.checkpoints import read_checkpoint
    from atomtrain.data.loading import load_section
    from atomtrain.data.readers import FileCache
    from atomtrain.options.datasets import expand_dataset_section
    from atomtrain.workflows.evaluate import evaluate

    targets = {"energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}}
    sections, _ = expand_dataset_section(
        {"systems": str(test), "targets": targets}, "", test.parent
    )
    dataset = load_section(sections[0], FileCache())
    run = _run_directory(directory)
    for epoch in tested_epochs(curve, count):
        path = run / f"model_{epoch}.ckpt"
        if not path.is_file():
            continue
        checkpoint, architecture = read_checkpoint(path)
        model = architecture.__model__.load_checkpoint(checkpoint, "restart")
        average = (checkpoint["trainer"]["state"] or {}).get("ema")
        if average:
            model.load_state_dict(average, strict=False)
        metrics = evaluate(model.export(), dataset, keep_predictions=False).metrics
        curve.test_force[epoch] = metrics["energy.forces.mae"]
        curve.test_energy[epoch] = 1e3 * metrics["energy.mae"]


def mace_test_curve(
    curve: Curve, directory: Path, model: Path, test: Path, count: int
) -> None:
    """Test errors of the (EMA) weights ``mace_run_train`` saved at some epochs."""
    import torch
    from mace.calculators import MACECalculator

    frames = ase.io.read(test, ":")
    network = torch.load(model, weights_only=False, map_location="cpu")
    dtype = str(next(network.parameters()).dtype).removeprefix("torch.")
    for epoch in tested_epochs(curve, count):
        paths = list((directory / "trained").glob(f"*_epoch-{epoch}.pt"))
        if not paths:
            continue
        state = torch.load(paths[0], weights_only=True, map_location="cpu")
        network.load_state_dict(state["model"])
        calc = MACECalculator(models=network, device="cpu", default_dtype=dtype)
        force, energy = _ase_errors(calc, frames)
        curve.test_force[epoch], curve.test_energy[epoch] = force, energy


def time_to_reach(curve: Curve, force: float) -> Optional[Tuple[float, int]]:
    """Seconds and epochs until the validation force MAE is ``force`` or less."""
    for seconds, epoch, value in zip(curve.seconds, curve.epochs, curve.val_force):
        if value <= force:
            return seconds, epoch + 1
    return None


def plot_curves(curves: Dict[str, Curve], path: Path) -> None:
    """Force and energy MAE against time, log-log: validation solid, test dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for index, (name, curve) in enumerate(curves.items()):
        color = f"C{index}"
        for axis, validation, test in (
            (axes[0], curve.val_force, curve.test_force),
            (axes[1], curve.val_energy, curve.test_energy),
        ):
            axis.plot(curve.seconds, validation, "o-", color=color, label=name, ms=3)
            tested = [
                (s, test[e]) for s, e in zip(curve.seconds, curve.epochs) if e in test
            ]
            if tested:
                axis.plot(*zip(*tested), "x--", color=color, ms=4)
    for axis, label in zip(axes, ["force MAE (eV/Å)", "energy MAE (meV/atom)"]):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("wall-clock time since start (s)")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(title="validation (—), test (--)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
