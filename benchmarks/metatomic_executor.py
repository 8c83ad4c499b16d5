"""Training steps of a wrapped exported model with and without TorchScript's
profiling executor.

The ``metatomic`` architecture calls the wrapped TorchScript module inside
``torch.jit.optimized_execution(False)``. This measures why: the time of each of
the first training steps (forward with forces by autograd, backward of an energy +
force loss, optimiser step) of the same model on the same batches, once as the
architecture runs it and once with the profiling executor on (the TorchScript
default), the two alternating batch by batch in one process.

    PYTHONPATH=src python benchmarks/metatomic_executor.py MODEL.pt [--steps 20]

Measured (the reference PET of ``finetune_metatomic.py``, 415,874 parameters, 8
ethanol frames per batch and one of 4 every 13th step, float32, one thread, 2 CPU
cores shared with another training run, 26 steps each, alternating)::

    unprofiled: 0.46 0.32 0.37 0.34 0.34 0.33 ... 0.26 (batch of 4) 0.34 0.49 ...
                median after 3 steps 0.37 s
     profiling: 2.67 5.31 1.24 1.60 0.35 0.38 ... 0.27 (batch of 4) 0.63 0.57 ...
                median after 3 steps 0.46 s

The profiling executor spends its first four steps (10.8 s, the time of about 30
steady steps) re-specialising the model, again (0.6 s instead of 0.34) after a
batch of another size, and is no faster once specialised.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any, Iterator, List

import ase.io
import torch

from atomtrain.data.batching import BatchBuilder
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.readers.ase import structures
from atomtrain.metatomic_model.model import MetatomicModel
from atomtrain.training.predict import predict

DFT = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "resources"
    / "ethanol_reduced_100.xyz"
)
ENERGY = TargetInfo(quantity="energy", unit="kcal/mol", gradients=("positions",))


@contextlib.contextmanager
def profiling_executor() -> Iterator[None]:
    """TorchScript's default: the profiling executor on, whatever the caller asks."""
    original = torch.jit.optimized_execution
    torch.jit.optimized_execution = lambda should_optimize: contextlib.nullcontext()  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.jit.optimized_execution = original


def step(model: MetatomicModel, batch: Any, optimizer: torch.optim.Optimizer) -> float:
    start = time.perf_counter()
    result = predict(
        model,
        batch,
        {"energy": ENERGY},
        True,
        unlabelled_gradients={"energy": ["positions"]},
    )
    block = result["energy"].block()
    loss = block.values.square().mean() * 1e-6
    loss = loss + block.gradient("positions").values.square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    frames = ase.io.read(DFT, ":")
    read = structures(frames, str(DFT))
    dataset = InMemoryDataset(
        read,
        DatasetInfo(atomic_types=[1, 6, 8], targets={}),
        [(str(DFT), i) for i in range(len(read))],
    )
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": ENERGY})
    hypers = {"path": str(args.model), "extensions": None, "trainable": ["*"]}
    models = {
        name: MetatomicModel(hypers, info).to(torch.float32).train()  # type: ignore[arg-type]
        for name in ("unprofiled", "profiling")
    }
    optimizers = {
        name: torch.optim.Adam(m.parameters(), lr=1e-5) for name, m in models.items()
    }
    times: dict[str, List[float]] = {name: [] for name in models}
    builder = BatchBuilder(
        models["unprofiled"].requested_neighbor_lists(), {}, dtype=torch.float32
    )
    # batches of 8 ethanol frames, and one of 4 now and then: new shapes, as in
    # a training run whose last batch is smaller
    plan = [list(range(i, min(i + 8, 100))) for i in range(0, 100, 8)]
    for index in range(args.steps):
        indices = plan[index % len(plan)]
        for name, model in models.items():
            # a fresh batch per model: its positions are the leaves of the graph
            batch = builder(dataset, indices, ("positions",))
            executor = (
                profiling_executor()
                if name == "profiling"
                else contextlib.nullcontext()
            )
            with executor:
                times[name].append(step(model, batch, optimizers[name]))
    for name, values in times.items():
        shown = " ".join(f"{v:.3f}" for v in values)
        steady = sorted(values[3:])[len(values[3:]) // 2]
        print(f"{name:>10}: median after 3 steps {steady:.3f} s; every step: {shown}")


if __name__ == "__main__":
    main()
