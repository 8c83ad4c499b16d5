"""Time-to-accuracy recipes: PET's and SOAP-BPNN's old defaults against the new ones,
trained side by side on the same data.

The split of ``examples/data/ethanol_gfn2_1000.xyz`` is the one of the other
benchmarks (first 800 frames train, next 100 validation, last 100 test; energy in eV,
forces in eV/Å). Four trainings run through atomtrain's command line, each in its own
process, all started at the same time (so that they see the same machine load), with
one thread each (``OMP_NUM_THREADS=1``), for the same wall-clock budget, then are
stopped (SIGTERM). Everything not named below is the architecture's default (PET:
1000 epochs, batch 16, ``warmup_cosine``; SOAP-BPNN: 100 epochs, batch 16); the
``new`` runs set nothing, so they train with whatever the current defaults are.

Old defaults (see CHANGELOG.md)::

    pet        d_pet 128, d_head 128, d_node 256, d_feedforward 256, num_heads 8,
               num_attention_layers 2; learning_rate 1e-4, warmup_fraction 0.01,
               ema_decay null
    soap_bpnn  learning_rate 1e-3, warmup_fraction 0.05, ema_decay null

New defaults::

    pet        d_pet 64, d_head 64, d_node 128, d_feedforward 128, num_heads 4,
               num_attention_layers 1; learning_rate 3e-3, warmup_fraction 0.001,
               ema_decay 0.99
    soap_bpnn  learning_rate 3e-3, warmup_fraction 0.01, ema_decay 0.99

Measured: the validation force MAE after each epoch (with the EMA weights where EMA is
on) against the wall-clock time since the process started, the time and epochs to
reach each of ``--thresholds`` eV/Å, the test errors of the last epoch's weights and
the milliseconds per energy + forces call of the exported last model through ASE (an
ethanol molecule and a periodic box of 64 water molecules, one thread). It writes
``curves.png`` and ``results.json`` in the work directory (``--work``, default a new
temporary one) and prints the table.

Measured on 2026-12-05 with ``--budget 2400`` on two CPU cores shared with other
work (the four trainings and several other people's runs: load average 2.6 at the
start, 12.8 at the end), ``results.json`` kept as ``benchmarks/results/recipes.json``.
Seconds / epochs to reach a validation force MAE (eV/Å) of::

                    0.5       0.3       0.2       0.1      0.07      0.05      0.03
    pet_old     2396/12         -         -         -         -         -         -
    pet_new        91/2     135/3     174/4   1062/18         -         -         -
    soap_old       41/1      59/2      59/2      81/3     150/6     214/8    844/27
    soap_new       40/1      40/1      40/1      60/2      60/2     130/5    465/15

After the last epoch (validation / test force MAE, eV/Å): ``pet_old`` 0.453 / 0.401
after 12 epochs (2396 s), ``pet_new`` 0.077 / 0.069 after 34 (2358 s),
``soap_bpnn_old`` 0.0235 / 0.0206 after 58, ``soap_bpnn_new`` 0.0180 / 0.0153 after
57. PET with the new defaults reaches 0.2 eV/Å in 174 s; with the old ones it never
did, and was at 0.45 eV/Å when stopped at 2396 s: a ratio below 0.073 (the target was
0.5). SOAP-BPNN reaches each error in 0.4 to 0.75 times the time of its old defaults
(0.05 eV/Å: 130 s against 214 s; 0.03: 465 s against 844 s). An earlier run of the
same comparison (under heavier load) gave 953 s for PET's new defaults to 0.2 eV/Å,
against 0.82 eV/Å after 1577 s for the old ones, and 519 s against 1192 s for
SOAP-BPNN to 0.07 eV/Å.

Milliseconds per energy + forces call of the last models, one after the other under
the same load (noisy): ethanol 72 (``pet_old``), 46 (``pet_new``), 46 and 56
(SOAP-BPNN); the 192-atom water box 3770 (``pet_old``), 918 (``pet_new``), 613 and
631 (SOAP-BPNN): the narrower PET is four times cheaper to run.

::

    PYTHONPATH=src .venv/bin/python benchmarks/recipes.py [--budget 2400]
        [--thresholds 0.5,0.3,0.2,0.1,0.07,0.05,0.04,0.03] [--repeats 20] [--work DIR]
        [--atomtrain COMMAND]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from soap_bpnn_vs_reference import write_split
from time_to_accuracy import COMMANDS, export_last, speeds
from time_to_accuracy_curves import (
    Curve,
    atomtrain_curve,
    atomtrain_test_curve,
    plot_curves,
    time_to_reach,
)

#: The hypers each run sets over the architecture's defaults: the old defaults
#: written out, the new ones taken as they are.
RUNS: Dict[str, Dict[str, Any]] = {
    "pet_old": {
        "name": "pet",
        "model": {
            "d_pet": 128,
            "d_head": 128,
            "d_node": 256,
            "d_feedforward": 256,
            "num_heads": 8,
            "num_attention_layers": 2,
        },
        "training": {
            "learning_rate": 1e-4,
            "warmup_fraction": 0.01,
            "ema_decay": None,
        },
    },
    "pet_new": {"name": "pet", "model": {}, "training": {}},
    "soap_bpnn_old": {
        "name": "soap_bpnn",
        "model": {},
        "training": {
            "learning_rate": 1e-3,
            "warmup_fraction": 0.05,
            "ema_decay": None,
        },
    },
    "soap_bpnn_new": {"name": "soap_bpnn", "model": {}, "training": {}},
}


def options(run: str, paths: Dict[str, Path]) -> Dict[str, Any]:
    """The options file of one run; a checkpoint every epoch, for the test errors
    and the export of the last one (the same cost in every run)."""

    def section(path: Path) -> Dict[str, Any]:
        targets = {
            "energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}
        }
        return {"systems": str(path), "targets": targets}

    setting = RUNS[run]
    training = {**setting["training"], "checkpoint_interval": 1}
    return {
        "seed": 0,
        "architecture": {
            "name": setting["name"],
            "model": dict(setting["model"]),
            "training": training,
        },
        "training_set": section(paths["train"]),
        "validation_set": section(paths["validation"]),
        "test_set": section(paths["test"]),
        "final_eval": False,
    }


def train_all(
    runs: List[str], work: Path, paths: Dict[str, Path], budget: float
) -> Dict[str, float]:
    """Start every run at once, stop those still running after ``budget`` seconds;
    their start times (``time.time()``)."""
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    processes, started = {}, {}
    for run in runs:
        directory = work / run
        directory.mkdir(parents=True)
        (directory / "options.yaml").write_text(yaml.safe_dump(options(run, paths)))
        started[run] = time.time()
        with (directory / "stdout.log").open("w") as log:
            processes[run] = subprocess.Popen(
                [*COMMANDS["atomtrain"], "train", "options.yaml"],
                cwd=directory,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    deadline = time.time() + budget
    while time.time() < deadline and any(p.poll() is None for p in processes.values()):
        time.sleep(1.0)
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        process.wait()
    return started


def print_table(
    curves: Dict[str, Curve],
    speed: Dict[str, Dict[str, float]],
    thresholds: List[float],
) -> None:
    print("\ntime (s) / epochs to reach a validation force MAE (eV/Å) of")
    print(f"{'':16}" + "".join(f"{x:>12}" for x in thresholds))
    for run, curve in curves.items():
        cells = []
        for threshold in thresholds:
            reached = time_to_reach(curve, threshold)
            cells.append("-" if reached is None else f"{reached[0]:.0f} / {reached[1]}")
        print(f"{run:16}" + "".join(f"{c:>12}" for c in cells))
    print("\nafter the last epoch (s); force MAE (eV/Å); ms per energy + forces call")
    columns = ["epochs", "seconds", "val F", "test F", "ethanol ms", "water ms"]
    print(f"{'':16}" + "".join(f"{c:>12}" for c in columns))
    for run, curve in curves.items():
        if not curve.epochs:
            print(f"{run:16}{'0':>12}")
            continue
        last = curve.epochs[-1]
        values = [
            f"{len(curve.epochs)}",
            f"{curve.seconds[-1]:.0f}",
            f"{curve.val_force[-1]:.3g}",
            f"{curve.test_force.get(last, float('nan')):.3g}",
            f"{speed[run]['ethanol']:.3g}",
            f"{speed[run]['water_box']:.3g}",
        ]
        print(f"{run:16}" + "".join(f"{v:>12}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=2400.0, help="seconds")
    parser.add_argument("--runs", default=",".join(RUNS))
    parser.add_argument("--thresholds", default="0.5,0.3,0.2,0.1,0.07,0.05,0.04,0.03")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument(
        "--atomtrain", default=None, help="atomtrain's command (default: .venv's)"
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    if args.atomtrain:
        COMMANDS["atomtrain"] = shlex.split(args.atomtrain)
    runs = args.runs.split(",")
    work = args.work or Path(tempfile.mkdtemp(prefix="recipes_"))
    work.mkdir(parents=True, exist_ok=True)
    paths = write_split(work)
    load = os.getloadavg()[0]
    started = train_all(runs, work, paths, args.budget)
    print(
        f"trained for up to {args.budget:.0f} s each; load average before: "
        f"{load:.2f}, after: {os.getloadavg()[0]:.2f}"
    )
    curves = {}
    for run in runs:
        curves[run] = atomtrain_curve(work / run, started[run])
        atomtrain_test_curve(curves[run], work / run, paths["test"], 1)
        export_last(work / run)
    speed = speeds(runs, work, args.repeats)
    plot_curves(curves, work / "curves.png")
    thresholds = [float(x) for x in args.thresholds.split(",")]
    print_table(curves, speed, thresholds)
    results = {
        run: {**vars(curve), "speed_ms": speed[run]} for run, curve in curves.items()
    }
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nwork directory {work}: curves.png, results.json")


if __name__ == "__main__":
    main()
