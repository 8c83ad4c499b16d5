"""Batches per second of the data pipeline, after the first epoch, with PET-like
neighbour lists (cutoff 4.5 Å, full list, float32 batches with force and stress
leaves), in-process and with DataLoader workers; and the same for the reference
implementation (metatrain's Dataset + CollateFn + neighbour-list transform +
unpack_batch + batch_to) when its environment exists.

    .venv/bin/python benchmarks/data_pipeline.py [--epochs 3] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Dict, List

import ase.io
import torch
from metatomic.torch import NeighborListOptions

from atomtrain.data.batching import BatchBuilder
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.neighbors import NeighborCache
from atomtrain.data.ondisk_convert import ConvertTarget, frame_to_structure
from atomtrain.data.sampling import (
    BatchPlan,
    BatchRequests,
    CollatedBatches,
    Request,
    batch_loader,
    plan_epoch,
)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PYTHON = Path("/tmp/metatrain-ref/bin/python")
FILES = {
    "ethanol_gfn2_1000": (ROOT / "examples/data/ethanol_gfn2_1000.xyz", "forces", None),
    "carbon_reduced_100": (
        ROOT / "tests/resources/carbon_reduced_100.xyz",
        "force",
        "virial",
    ),
}
OPTIONS = NeighborListOptions(cutoff=4.5, full_list=True, strict=True)


def load(path: Path, forces: str, virial: str | None) -> InMemoryDataset:
    energy = TargetInfo(quantity="energy", unit="eV")
    target = ConvertTarget(
        "energy", "energy", energy, forces_key=forces, virial_key=virial
    )
    structures, origins = [], []
    for i, atoms in enumerate(ase.io.iread(path, ":")):
        structures.append(frame_to_structure(atoms, [target], str(path), i))
        origins.append((str(path), i))
    info = DatasetInfo(targets={"energy": target.target_info()})
    return InMemoryDataset(structures, info, origins)


def in_process(
    dataset: InMemoryDataset, batch_size: int, epochs: int
) -> Dict[str, float]:
    builder = BatchBuilder(
        [OPTIONS], dataset.info.targets, dtype=torch.float32, cache=NeighborCache()
    )
    plan = BatchPlan(batch_size=batch_size)
    gradients = ("positions", "strain")
    start = time.perf_counter()
    for indices in plan_epoch(plan, dataset.num_atoms(), 0):
        builder(dataset, indices, gradients)
    first = time.perf_counter() - start
    count, start = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        for indices in plan_epoch(plan, dataset.num_atoms(), epoch):
            builder(dataset, indices, gradients, epoch)
            count += 1
    elapsed = time.perf_counter() - start
    return {
        "first_epoch_s": first,
        "batches_per_s": count / elapsed,
        "cache_MB": builder.cache.nbytes / 1e6,
    }


def with_workers(
    dataset: InMemoryDataset, batch_size: int, epochs: int, workers: int
) -> float:
    builder = BatchBuilder(
        [OPTIONS], dataset.info.targets, dtype=torch.float32, cache=NeighborCache()
    )
    plan = BatchPlan(batch_size=batch_size)
    requests = BatchRequests()
    loader = batch_loader(
        CollatedBatches([dataset], builder, builder), requests, workers
    )

    def epoch_requests(epoch: int) -> List[Request]:
        batches = plan_epoch(plan, dataset.num_atoms(), epoch)
        return [(0, epoch, list(indices), True) for indices in batches]

    requests.set(epoch_requests(0))
    for collated in loader:  # start the workers
        builder.finalize(collated, ("positions", "strain"))
    count, start = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        requests.set(epoch_requests(epoch))
        for collated in loader:
            builder.finalize(collated, ("positions", "strain"))
            count += 1
    return count / (time.perf_counter() - start)


def model_step(dataset: InMemoryDataset, batch_size: int) -> float:
    """Seconds of a minimal model step (pair energy, forces and virial by autograd):
    a lower bound of any real model's step, to put the pipeline's time in scale."""
    builder = BatchBuilder([OPTIONS], {}, dtype=torch.float32)
    batch = builder(dataset, range(batch_size), ("positions", "strain"))
    weights = torch.nn.Linear(16, 1)
    start = time.perf_counter()
    for _ in range(20):
        energy = torch.zeros(())
        for system in batch.systems:
            r = system.get_neighbor_list(OPTIONS).values.reshape(-1, 3).norm(dim=1)
            basis = torch.exp(-((r[:, None] - torch.linspace(0, 4.5, 16)) ** 2))
            energy = energy + weights(basis).sum()
        grads = torch.autograd.grad(
            energy, batch.positions + batch.strains, create_graph=True
        )
        loss = sum(g.square().sum() for g in grads)
        loss.backward(retain_graph=True)  # type: ignore[union-attr]
    return (time.perf_counter() - start) / 20


REFERENCE_SCRIPT = r"""
import json, sys, time, torch
from omegaconf import OmegaConf
from metatomic.torch import NeighborListOptions
from metatrain.utils.data import CollateFn, get_dataset, unpack_batch
from metatrain.utils.neighbor_lists import get_system_with_neighbor_lists_transform
from metatrain.utils.omegaconf import expand_dataset_config
from metatrain.utils.transfer import batch_to

path, forces, virial, batch_size, epochs = sys.argv[1:6]
targets = {"energy": {"key": "energy", "unit": "eV", "forces": {"key": forces}}}
if virial != "None":
    targets["energy"]["virial"] = {"key": virial}
conf = expand_dataset_config(OmegaConf.create(
    {"systems": {"read_from": path, "length_unit": "angstrom"}, "targets": targets}
))[0]
dataset, target_info, _ = get_dataset(conf)
options = NeighborListOptions(cutoff=4.5, full_list=True, strict=True)
collate = CollateFn(
    target_keys=["energy"],
    callables=[get_system_with_neighbor_lists_transform([options])],
)
loader = torch.utils.data.DataLoader(
    dataset, batch_size=int(batch_size), shuffle=True, collate_fn=collate
)
def epoch():
    count = 0
    for batch in loader:
        systems, targets, extra = unpack_batch(batch)
        systems, targets, extra = batch_to(systems, targets, extra, dtype=torch.float32)
        for s in systems:
            s.positions.requires_grad_(True)
        count += 1
    return count
start = time.perf_counter(); epoch(); first = time.perf_counter() - start
count, start = 0, time.perf_counter()
for _ in range(int(epochs)):
    count += epoch()
rate = count / (time.perf_counter() - start)
print(json.dumps({"first_epoch_s": first, "batches_per_s": rate}))
"""


def reference(
    path: Path, forces: str, virial: str | None, batch_size: int, epochs: int
):
    if not REFERENCE_PYTHON.exists():
        return None
    result = subprocess.run(
        [
            str(REFERENCE_PYTHON),
            "-c",
            REFERENCE_SCRIPT,
            str(path),
            forces,
            str(virial),
            str(batch_size),
            str(epochs),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: List[str] = []
    for name, (path, forces, virial) in FILES.items():
        dataset = load(path, forces, virial)
        ours = in_process(dataset, args.batch_size, args.epochs)
        line = (
            f"{name}: in-process {ours['batches_per_s']:.0f} batches/s "
            f"(first epoch {ours['first_epoch_s']:.2f} s, "
            f"cache {ours['cache_MB']:.1f} MB)"
        )
        for workers in args.workers:
            rate = with_workers(dataset, args.batch_size, args.epochs, workers)
            line += f"; {workers} worker(s) {rate:.0f} batches/s"
        step = model_step(dataset, args.batch_size)
        pipeline_ms = 1e3 / ours["batches_per_s"]
        line += (
            f"; minimal model step {1e3 * step:.1f} ms, pipeline {pipeline_ms:.1f} ms"
        )
        ref = reference(path, forces, virial, args.batch_size, args.epochs)
        if ref is None:
            line += "; reference environment absent"
        else:
            line += (
                f"; metatrain {ref['batches_per_s']:.0f} batches/s (first epoch "
                f"{ref['first_epoch_s']:.2f} s): atomtrain is "
                f"{ours['batches_per_s'] / ref['batches_per_s']:.1f}x faster"
            )
        rows.append(line)
        print(line, flush=True)


if __name__ == "__main__":
    main()
