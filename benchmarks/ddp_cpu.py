"""Data-parallel training on CPU: 2 gloo processes against 1 process.

Trains the engine's test architecture (``atomtrain.testing.dummy``) in float64 on the
GFN2-xTB ethanol frames, once in one process with a batch of ``2 * batch_size`` and
once under ``torchrun --standalone --nproc_per_node 2`` with ``batch_size`` per
process, i.e. the same global batches. Prints the wall time per epoch of each (the
whole ``train`` call, setup included, divided by the number of epochs), the speed-up,
and the largest relative difference between the two loss curves (expected: float64
rounding). Each process uses ``--threads`` threads.

    .venv/bin/python benchmarks/ddp_cpu.py [--structures 400] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Dict

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples/data/ethanol_gfn2_1000.xyz"

WORKER = textwrap.dedent(
    """
    import json, sys, time
    import ase.io, torch
    from atomtrain.data.dataset import InMemoryDataset
    from atomtrain.data.info import DatasetInfo, TargetInfo
    from atomtrain.data.structure import Structure, TargetData
    from atomtrain.testing.dummy import DummyModel, DummyTrainer
    from atomtrain.training import distributed
    from atomtrain.training.hypers import base_trainer_defaults

    settings = json.loads(sys.argv[1])
    torch.set_num_threads(settings["threads"])
    devices = distributed.initialize([torch.device("cpu")])
    structures = []
    for frame in ase.io.read(settings["data"], index=f":{settings['structures']}"):
        energy = torch.tensor([[frame.get_potential_energy()]], dtype=torch.float64)
        forces = torch.tensor(frame.get_forces(), dtype=torch.float64)
        structures.append(Structure(
            torch.tensor(frame.numbers, dtype=torch.int32),
            torch.tensor(frame.positions, dtype=torch.float64),
            torch.zeros((3, 3), dtype=torch.float64), torch.zeros(3, dtype=torch.bool),
            {"energy": TargetData([energy], {"positions": -forces[..., None]})},
        ))
    energy = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))
    info = DatasetInfo("angstrom", [1, 6, 8], {"energy": energy})
    origins = [("ethanol", i) for i in range(len(structures))]
    data = InMemoryDataset(structures, info, origins)
    train = data.subset(range(int(0.9 * len(data))))
    val = data.subset(range(int(0.9 * len(data)), len(data)))
    hypers = {**base_trainer_defaults(), "num_epochs": settings["epochs"],
               "batch_size": settings["batch_size"], "checkpoint_interval": 10**6}
    torch.manual_seed(0)
    model = DummyModel({"cutoff": 5.0, "num_radial": 16,
                         "hidden": settings["hidden"]}, data.info)
    start = time.perf_counter()
    DummyTrainer(hypers).train(model, torch.float64, devices, [train], [val],
                               settings["run"])
    elapsed = time.perf_counter() - start
    if distributed.is_main_process():
        with open(settings["run"] + "/train.csv") as file:
            rows = file.read().splitlines()[2:]
        header = open(settings["run"] + "/train.csv").readline().strip().split(",")
        column = header.index("train.loss")
        losses = [float(row.split(",")[column]) for row in rows]
        print(json.dumps({"seconds_per_epoch": elapsed / settings["epochs"],
                          "losses": losses}))
    distributed.shutdown()
    """
)


def run(settings: Dict[str, Any], processes: int, workdir: Path) -> Dict[str, Any]:
    script = workdir / "worker.py"
    script.write_text(WORKER)
    settings = {**settings, "run": str(workdir / f"run{processes}")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    if processes == 1:
        command = [sys.executable, str(script)]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        command += ["--nproc_per_node", str(processes), str(script)]
        settings["batch_size"] //= processes
    env["OMP_NUM_THREADS"] = str(settings["threads"])
    result = subprocess.run(
        [*command, json.dumps(settings)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-4000:])
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    settings = {
        "data": str(DATA),
        "structures": args.structures,
        "epochs": args.epochs,
        "batch_size": args.global_batch,
        "hidden": args.hidden,
        "threads": args.threads,
    }
    with tempfile.TemporaryDirectory() as directory:
        one = run(settings, 1, Path(directory))
        two = run(settings, 2, Path(directory))
    difference = max(abs(a - b) / abs(a) for a, b in zip(one["losses"], two["losses"]))
    report = {
        "structures": args.structures,
        "global_batch": args.global_batch,
        "cores": os.cpu_count(),
        "seconds_per_epoch": {
            "1 process": round(one["seconds_per_epoch"], 3),
            "2 processes (gloo)": round(two["seconds_per_epoch"], 3),
        },
        "speed_up": round(one["seconds_per_epoch"] / two["seconds_per_epoch"], 2),
        "max_relative_loss_difference": difference,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
