"""Distributed training: launch detection, process groups under torchrun and SLURM,
and a 2-process gloo run equal to a 1-process run with the same global batches."""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch

from atomtrain.checkpoints import read_checkpoint_file
from atomtrain.testing.dummy import DummyModel, DummyTrainer
from atomtrain.training import distributed
from atomtrain.training.distributed import (
    DistributedError,
    detect_launch,
    initialize,
)
from atomtrain.training.hypers import base_trainer_defaults

TESTS = Path(__file__).parent
MODEL_HYPERS = {"cutoff": 4.0, "num_radial": 6, "hidden": 16, "zbl": False}
#: per-process batch of 4: global batches of 8, 8, 7, 7 structures from 30, so the
#: two shares of a step differ in size (4 and 3) and so do validation's (3 and 2)
HYPERS: Dict[str, Any] = {
    "num_epochs": 3,
    "batch_size": 4,
    "learning_rate": 2e-2,
    "warmup_fraction": 0.0,
    "grad_clip_norm": 5.0,
    "checkpoint_interval": 2,
}

WORKER = textwrap.dedent(
    """
    import json, sys, torch
    sys.path.insert(0, {tests!r})
    from conftest import read_ethanol
    from atomtrain.testing.dummy import DummyModel, DummyTrainer
    from atomtrain.training import distributed
    from atomtrain.training.hypers import base_trainer_defaults

    devices = distributed.initialize([torch.device("cpu")])
    data = read_ethanol({data!r}, 40)
    hypers = {{**base_trainer_defaults(), **{hypers!r}}}
    torch.manual_seed(0)
    model = DummyModel({model!r}, data.info)
    DummyTrainer(hypers).train(
        model, torch.float64, devices,
        [data.subset(range(30))], [data.subset(range(30, 40))], {run!r},
    )
    if distributed.is_main_process():
        torch.save(model.state_dict(), {weights!r})
    # one file per process: the two processes share the launcher's standard output
    with open(f"{reports}/rank-{{distributed.rank()}}.json", "w") as report:
        json.dump({{"rank": distributed.rank(), "world": distributed.world_size(),
                   "devices": [str(d) for d in devices]}}, report)
    distributed.shutdown()
    """
)


def free_port(low: int = 1024, high: int = 65535) -> int:
    for port in range(low, high):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def clean_environment() -> Dict[str, str]:
    """The environment without any launcher's variables, one thread per process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "MASTER_", "RANK", "WORLD_SIZE", "LOCAL_"))
    }
    env["OMP_NUM_THREADS"] = "1"
    return env


def read_rows(run_dir: Path) -> List[Dict[str, str]]:
    with (run_dir / "train.csv").open() as file:
        return list(csv.DictReader(file))[1:]


# ---- launch detection ------------------------------------------------------------


def test_launches_that_cannot_be_honoured():
    torchrun = {
        "RANK": "0",
        "WORLD_SIZE": "2",
        "LOCAL_RANK": "0",
        "LOCAL_WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": "1",
    }
    cpu = [torch.device("cpu")]
    with pytest.raises(DistributedError, match="nccl needs GPUs but the device"):
        initialize(cpu, backend="nccl", environ=torchrun)
    with pytest.raises(DistributedError, match="expected 'gloo' or 'nccl'"):
        initialize(cpu, environ={**torchrun, "ATOMTRAIN_DIST_BACKEND": "mpi"})
    with pytest.raises(DistributedError, match="names one GPU but torchrun started"):
        initialize([torch.device("cuda:1")], environ=torchrun)
    with pytest.raises(DistributedError, match="each process trains on one device"):
        initialize([torch.device("cpu"), torch.device("mps")], environ=torchrun)
    with pytest.raises(DistributedError, match="MASTER_ADDR and MASTER_PORT not"):
        detect_launch({"RANK": "0", "WORLD_SIZE": "2"})
    two = [torch.device("cuda:0"), torch.device("cuda:1")]
    with pytest.raises(DistributedError, match="torchrun --nproc_per_node 2"):
        initialize(two, environ={})
    assert not torch.distributed.is_initialized()


def test_without_process_group_helpers_are_identities():
    assert (distributed.world_size(), distributed.rank()) == (1, 0)
    assert distributed.is_main_process()
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    assert distributed.all_gather_object(3) == [3]
    values = torch.arange(3.0)
    assert distributed.all_reduce_sum(values) is values
    distributed.barrier()
    distributed.check_shareable(1)


# ---- real process groups ---------------------------------------------------------

SLURM_TASK = textwrap.dedent(
    """
    import json, torch
    from atomtrain.training import distributed
    devices = distributed.initialize([torch.device("cpu")])
    total = distributed.all_reduce_sum(torch.tensor([distributed.rank() + 1.0]))
    shared = distributed.broadcast_object(f"run-of-rank-{distributed.rank()}")
    made = distributed.run_on_main(lambda: f"made-by-{distributed.rank()}")
    def refuse():
        raise ValueError("no room for the run directory")
    try:
        distributed.run_on_main(refuse)
        failure = None
    except Exception as error:
        failure = f"{type(error).__name__}: {error}"
    distributed.barrier()
    print(json.dumps({
        "made": made, "failure": failure,
        "rank": distributed.rank(), "world": distributed.world_size(),
        "backend": torch.distributed.get_backend(), "total": total.item(),
        "shared": shared, "main": distributed.is_main_process(),
        "devices": [str(d) for d in devices],
    }))
    distributed.shutdown()
    """
)


def test_simulated_slurm_job_initialises_the_process_group():
    port = free_port(15000, 25000)
    tasks = []
    for task in range(2):
        env = clean_environment()
        env.update(
            SLURM_JOB_ID=str(port - 15000 + 10000 * 7),
            SLURM_STEP_ID="0",
            SLURM_PROCID=str(task),
            SLURM_LOCALID=str(task),
            SLURM_NTASKS="2",
            SLURM_STEP_NUM_TASKS="2",
            SLURM_STEP_TASKS_PER_NODE="2",
            SLURM_STEP_NODELIST="localhost",
        )
        tasks.append(
            subprocess.Popen(
                [sys.executable, "-c", SLURM_TASK],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    reports = []
    for process in tasks:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        reports.append(json.loads(stdout.strip().splitlines()[-1]))
    assert [r["rank"] for r in reports] == [0, 1]
    for report in reports:
        assert report["world"] == 2 and report["backend"] == "gloo"
        assert report["total"] == 3.0
        assert report["shared"] == "run-of-rank-0"
        assert report["devices"] == ["cpu"]
        assert report["made"] == "made-by-0"
    assert [r["main"] for r in reports] == [True, False]
    assert reports[0]["failure"] == "ValueError: no room for the run directory"
    assert reports[1]["failure"] == (
        "DistributedError: rank 0 failed: no room for the run directory"
    )


@pytest.mark.slow
def test_two_processes_match_one_process_with_the_same_global_batch(
    resources, ethanol, tmp_path
):
    distributed_run = tmp_path / "two"
    script = WORKER.format(
        tests=str(TESTS),
        data=str(resources / "ethanol_reduced_100.xyz"),
        hypers=HYPERS,
        model=MODEL_HYPERS,
        run=str(distributed_run),
        weights=str(tmp_path / "two.pt"),
        reports=str(tmp_path),
    )
    worker = tmp_path / "worker.py"
    worker.write_text(script)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(worker)]
    result = subprocess.run(
        command,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads(p.read_text()) for p in tmp_path.glob("rank-*.json")]
    assert sorted(r["rank"] for r in reports) == [0, 1]
    assert all(r["world"] == 2 and r["devices"] == ["cpu"] for r in reports)

    single_run = tmp_path / "one"
    hypers = {**base_trainer_defaults(), **HYPERS, "batch_size": 8}
    data = ethanol.subset(range(40))
    torch.manual_seed(0)
    model = DummyModel(dict(MODEL_HYPERS), data.info)  # type: ignore[arg-type]
    DummyTrainer(hypers).train(  # type: ignore[arg-type]
        model,
        torch.float64,
        [torch.device("cpu")],
        [data.subset(range(30))],
        [data.subset(range(30, 40))],
        single_run,
    )

    one, two = read_rows(single_run), read_rows(distributed_run)
    assert [r["epoch"] for r in two] == ["0", "1", "2"]
    for expected, actual in zip(one, two):
        for key, value in expected.items():
            if key != "epoch" and value:
                assert float(actual[key]) == pytest.approx(float(value), rel=1e-10)
    weights = torch.load(tmp_path / "two.pt", weights_only=True)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(weights[name], value, rtol=1e-10, atol=1e-12)
    # one run directory, written by rank 0 only: one log line per epoch
    log = (distributed_run / "train.log").read_text()
    assert log.count("epoch    2 |") == 1
    assert sorted(p.name for p in distributed_run.glob("*.ckpt")) == ["model_1.ckpt"]


DISK_WORKER = textwrap.dedent(
    """
    import json, torch
    from atomtrain.data.batching import BatchBuilder
    from atomtrain.data.ondisk import DiskDataset
    from atomtrain.testing.dummy import DummyModel, DummyTrainer
    from atomtrain.training import distributed
    from atomtrain.training.hypers import base_trainer_defaults

    collated = []
    original = BatchBuilder.collate

    def recording(self, dataset, indices, epoch=0):
        collated.append([epoch, len(dataset), [int(i) for i in indices]])
        return original(self, dataset, indices, epoch)

    BatchBuilder.collate = recording
    devices = distributed.initialize([torch.device("cpu")])
    data = DiskDataset({data!r})
    hypers = {{**base_trainer_defaults(), **{hypers!r}}}
    torch.manual_seed(0)
    model = DummyModel({model!r}, data.info)
    DummyTrainer(hypers).train(
        model, torch.float64, devices,
        [data.subset(range(30))], [data.subset(range(30, 40))], {run!r},
    )
    with open(f"{reports}/rank-{{distributed.rank()}}.json", "w") as report:
        json.dump({{"rank": distributed.rank(), "collated": collated}}, report)
    distributed.shutdown()
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 1])
def test_two_processes_on_a_dataset_on_disk_read_their_shares(
    resources, tmp_path, workers
):
    from atomtrain.data.info import TargetInfo
    from atomtrain.data.ondisk import DiskDataset
    from atomtrain.data.ondisk_convert import ConvertTarget, convert

    energy = TargetInfo(quantity="energy", unit="kcal/mol")
    convert(
        [resources / "ethanol_reduced_100.xyz"],
        tmp_path / "ds",
        [ConvertTarget("energy", "energy", energy, forces_key="forces")],
    )
    worker = tmp_path / "worker.py"
    worker.write_text(
        DISK_WORKER.format(
            data=str(tmp_path / "ds"),
            hypers={**HYPERS, "num_workers": workers},
            model=MODEL_HYPERS,
            run=str(tmp_path / "two"),
            reports=str(tmp_path),
        )
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(worker)]
    result = subprocess.run(
        command,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    data = DiskDataset(tmp_path / "ds")
    hypers = {**base_trainer_defaults(), **HYPERS, "batch_size": 8}
    torch.manual_seed(0)
    model = DummyModel(dict(MODEL_HYPERS), data.info)  # type: ignore[arg-type]
    DummyTrainer(hypers).train(  # type: ignore[arg-type]
        model,
        torch.float64,
        [torch.device("cpu")],
        [data.subset(range(30))],
        [data.subset(range(30, 40))],
        tmp_path / "one",
    )
    one, two = read_rows(tmp_path / "one"), read_rows(tmp_path / "two")
    assert [r["epoch"] for r in two] == ["0", "1", "2"]
    for expected, actual in zip(one, two):
        for key, value in expected.items():
            if key != "epoch" and value:
                assert float(actual[key]) == pytest.approx(float(value), rel=1e-10)

    if workers:
        return  # batches collated in worker processes are not recorded
    # each process collates (reads) only its own shares of the training batches:
    # disjoint, together every structure once per epoch (the first collation of
    # each process is the memory guard's measure on one structure)
    reports = [json.loads((tmp_path / f"rank-{r}.json").read_text()) for r in (0, 1)]
    for epoch in range(3):
        shares = [
            [
                i
                for e, size, indices in r["collated"][1:]
                if e == epoch and size == 30
                for i in indices
            ]
            for r in reports
        ]
        assert shares[0] and shares[1] and not set(shares[0]) & set(shares[1])
        assert sorted(shares[0] + shares[1]) == list(range(30))


INTERRUPTED_WORKER = textwrap.dedent(
    """
    import os, sys, torch
    sys.path.insert(0, {tests!r})
    from conftest import read_ethanol
    from atomtrain.testing.dummy import DummyModel, DummyTrainer
    from atomtrain.training import distributed
    from atomtrain.training.hypers import base_trainer_defaults

    devices = distributed.initialize([torch.device("cpu")])
    with open(f"{run}/pid{{distributed.rank()}}", "w") as file:
        file.write(str(os.getpid()))
    data = read_ethanol({data!r}, 40)
    hypers = {{**base_trainer_defaults(), **{hypers!r}}}
    torch.manual_seed(0)
    model = DummyModel({model!r}, data.info)
    try:
        DummyTrainer(hypers).train(
            model, torch.float64, devices,
            [data.subset(range(30))], [data.subset(range(30, 40))], {run!r},
        )
    except Exception as error:
        print(f"rank {{distributed.rank()}}: {{error}}", file=sys.stderr)
        sys.exit(2)
    """
)


def train_one_process(
    data: Any, run_dir: Path, hypers: Dict[str, Any], checkpoint: Any = None
) -> List[Dict[str, str]]:
    torch.manual_seed(0)
    if checkpoint is None:
        model = DummyModel(dict(MODEL_HYPERS), data.info)  # type: ignore[arg-type]
        trainer = DummyTrainer(hypers)  # type: ignore[arg-type]
    else:
        model = DummyModel.load_checkpoint(checkpoint, context="restart")
        trainer = DummyTrainer.load_checkpoint(checkpoint, hypers, context="restart")
    trainer.train(
        model,
        torch.float64,
        [torch.device("cpu")],
        [data.subset(range(30))],
        [data.subset(range(30, 40))],
        run_dir,
    )
    return read_rows(run_dir)


@pytest.mark.slow
def test_sigterm_on_one_process_stops_all_and_the_restart_continues_exactly(
    resources, ethanol, tmp_path
):
    hypers = {**HYPERS, "num_epochs": 6, "checkpoint_interval": 100}
    run = tmp_path / "two"
    run.mkdir()
    worker = tmp_path / "worker.py"
    worker.write_text(
        INTERRUPTED_WORKER.format(
            tests=str(TESTS),
            data=str(resources / "ethanol_reduced_100.xyz"),
            hypers=hypers,
            model=MODEL_HYPERS,
            run=str(run),
        )
    )
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(worker)]
    process = subprocess.Popen(
        command,
        env=clean_environment(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    deadline = time.monotonic() + 120
    while not (run / "train.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    # only the process of rank 1 is told to stop
    os.kill(int((run / "pid1").read_text()), signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    path = run / "model_interrupted.ckpt"
    assert "rank 0: training interrupted by another process" in stderr
    assert "rank 1: training interrupted by SIGTERM" in stderr
    assert stderr.count(f"checkpoint written to {path}") == 2
    assert sorted(p.name for p in run.glob("*.ckpt")) == ["model_interrupted.ckpt"]

    checkpoint = read_checkpoint_file(path)
    state = checkpoint["trainer"]["state"]
    assert 0 < state["epoch"] < 6 and state["batch"] > 0
    # the same global batches in one process: the restart continues the run
    single = {**base_trainer_defaults(), **hypers, "batch_size": 8}
    data = ethanol.subset(range(40))
    full = train_one_process(data, tmp_path / "one", single)
    resumed = train_one_process(data, tmp_path / "resumed", single, checkpoint)
    assert resumed[0]["epoch"] == str(state["epoch"])
    assert len(resumed) == 6 - state["epoch"]
    for before, after in zip(full[state["epoch"] :], resumed):
        for key in ("train.loss", "val.loss", "train.energy.forces.rmse"):
            assert float(after[key]) == pytest.approx(float(before[key]), rel=1e-9)
