"""Where PET's training step spends its time by kind of kernel, and how this machine
runs those kinds of kernels.

Two measurements::

    .venv/bin/python benchmarks/pet_step_kernels.py [--batch-size 16] [--steps 5]

1. The PET training step (the benchmark's hypers, float32, forward with forces and the
   backward of an energy + force loss) under ``torch.profiler`` at one thread: the
   time of the ATen kernels grouped into matrix products, element-wise and reduction
   kernels, copies and fills, and the rest, with the number of calls per step.
2. The machine: an element-wise product of two float32 tensors of the size of PET's
   widest activations (batch 16 of ethanol: 1296 tokens x 128), run over many
   distinct tensors so that the data comes from the cache hierarchy as it does in a
   step, and a matrix product of PET's shape ([1296, 64] x [64, 128]); each by one
   thread, then by two threads at once (two Python threads of one intra-op thread
   each, doing the same work each), as throughput.

The element-wise rate is that of operands streamed from memory rather than from the
core's cache, as in a step, where each kernel reads what an earlier kernel wrote long
before: such a kernel's time is set by the bytes it moves, not its arithmetic, so only
fewer passes over memory (fused kernels) make the step's element-wise part faster.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from pet_vs_reference import ENERGY, HYPERS, energy_force_loss, ethanol_dataset

MATRIX = ("aten::mm", "aten::bmm", "aten::addmm", "aten::_fused_adam_")
MOVES = ("aten::copy_", "aten::fill_", "aten::zero_", "aten::index_copy")


def kind(name: str) -> str:
    if name in MATRIX:
        return "matrix products"
    if name in MOVES:
        return "copies and fills"
    return "element-wise, reductions and the rest"


def step_kernels(batch_size: int, steps: int) -> None:
    from torch.profiler import profile

    from atomtrain.architectures.hypers import get_defaults
    from atomtrain.data.batching import BatchBuilder
    from atomtrain.data.neighbors import NeighborCache
    from atomtrain.pet import PET

    dataset = ethanol_dataset(f":{batch_size}")
    torch.manual_seed(0)
    model = PET({**get_defaults("pet")["model"], **HYPERS}, dataset.info)
    model.train()
    build = BatchBuilder(
        model.requested_neighbor_lists(),
        {"energy": ENERGY},
        {},
        torch.float32,
        torch.device("cpu"),
        NeighborCache(),
    )
    # one batch per step: the positions of a batch are leaves of its step's graph
    batches = [
        build(dataset, range(batch_size), ["positions"]) for _ in range(3 + 2 * steps)
    ]

    def step() -> None:
        loss = energy_force_loss(model, batches.pop())
        model.zero_grad()
        loss.backward()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    wall = (time.perf_counter() - start) / steps
    with profile() as profiler:
        for _ in range(steps):
            step()
    totals: Dict[str, float] = {}
    calls: Dict[str, int] = {}
    for event in profiler.key_averages():
        # only the kernels themselves: autograd nodes and composite operations
        # include the time of the kernels they call
        if not event.key.startswith("aten::") or event.self_cpu_time_total <= 0:
            continue
        group = kind(event.key)
        totals[group] = totals.get(group, 0.0) + event.self_cpu_time_total
        calls[group] = calls.get(group, 0) + event.count
    profiled = sum(totals.values())
    print(
        f"PET training step, batch {batch_size} of ethanol, float32, 1 thread: "
        f"{1e3 * wall:.1f} ms without the profiler"
    )
    print(f"  {'kernels':40}{'share':>8}{'calls/step':>12}")
    for group, value in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {group:40}{100 * value / profiled:7.1f}%{calls[group] // steps:12d}")


def throughput(work: Callable[[], None], threads: int) -> float:
    """Seconds for ``threads`` Python threads to each run ``work`` once, each with
    one intra-op thread (a new thread starts with the default count)."""

    def run() -> None:
        torch.set_num_threads(1)
        work()

    runners = [threading.Thread(target=run) for _ in range(threads)]
    start = time.perf_counter()
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join()
    return time.perf_counter() - start


def machine() -> None:
    size = 1296 * 128
    count = 300

    def elementwise() -> None:
        inputs = [torch.randn(size) for _ in range(count)]
        other = torch.randn(size)
        out = torch.empty(size)
        start = time.perf_counter()
        for _ in range(3):
            for tensor in inputs:
                torch.mul(tensor, other, out=out)
        timings.append(time.perf_counter() - start)

    def matmul() -> None:
        left, right = torch.randn(1296, 64), torch.randn(64, 128)
        start = time.perf_counter()
        for _ in range(3 * count):
            torch.mm(left, right)
        timings.append(time.perf_counter() - start)

    print("\nthis machine, float32, one intra-op thread per Python thread")
    print(f"  {'kernel':34}{'1 thread':>12}{'2 threads':>12}{'speed-up':>10}")
    for name, work, unit, per_call in (
        ("x * y, 1296 x 128", elementwise, "GB/s", 3 * 4 * size),
        ("[1296, 64] @ [64, 128]", matmul, "GFLOP/s", 2 * 1296 * 64 * 128),
    ):
        rates = []
        for threads in (1, 2):
            timings: list[float] = []
            throughput(work, threads)  # warm-up: allocations
            timings.clear()
            throughput(work, threads)
            rates.append(threads * 3 * count * per_call / max(timings) / 1e9)
        print(
            f"  {name:34}{rates[0]:7.1f} {unit:4}{rates[1]:7.1f} {unit:4}"
            f"{rates[1] / rates[0]:9.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    step_kernels(args.batch_size, args.steps)
    machine()


if __name__ == "__main__":
    main()
