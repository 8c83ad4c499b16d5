"""A memory guard: batches sized to the memory there is, and structures too large
refused before training.

Cost model. The memory of one training step of a batch is estimated as

    FACTOR · s · (atoms + edges) + 3 · parameter bytes

where ``edges`` counts the neighbour pairs of every list the model requests, ``s`` is
the number of bytes of the tensors autograd keeps for the backward pass (the forward,
the loss and the force and stress graph) per atom or edge, and the last term is the
gradients and the optimiser's two moments of the model's parameters. ``s`` is measured
before training, once, on the smallest training structure, with
:func:`torch.autograd.graph.saved_tensors_hooks` (deterministic, the same on every
device); it carries the model's size and kind into the estimate: per atom or edge,
the dummy architecture keeps 400 bytes, SOAP-BPNN 5.3 kB and PET 165 kB (defaults,
float32).

``FACTOR`` turns kept tensors into the peak of the step: on the development machine
(CPU, float32, one step with energies and forces of rattled ASE bulk copper cells of
32 and 256 atoms), the growth of the peak resident memory was 1.4 (dummy), 2.4
(SOAP-BPNN) and 1.4 (PET) times the bytes kept, so ``FACTOR`` is 2.5. The estimate
scales linearly: a model whose cost per edge grows with the number of neighbours per
atom (PET's attention) is underestimated on structures denser than the measured one.

Budget: 90 % of the memory available when training starts — on CUDA the device's free
memory (:func:`torch.cuda.mem_get_info`), on the CPU ``MemAvailable`` of
``/proc/meminfo`` lowered to what the process's cgroup still allows — the smallest
over the processes of a run, so that they plan the same batches. Where it cannot be
read (no ``/proc``), there is no guard. A structure over the budget alone is refused
with its size; batches over it are split, as ``max_atoms_per_batch`` splits them.
Since the budget depends on the machine, a restart on a machine with less memory may
split batches the original run kept whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

import torch

from ..data.batching import Batch
from ..data.dataset import Dataset
from ..data.sampling import BatchingError
from . import distributed

if TYPE_CHECKING:
    from .batches import BatchFactory

#: Peak memory of a step over the bytes of the tensors autograd keeps (see above).
FACTOR = 2.5
#: The share of the available memory a step may use.
USABLE_FRACTION = 0.9
#: Bytes per parameter and per byte of its value besides the value itself: its
#: gradient and the two moments of Adam.
PARAMETER_COPIES = 3


@dataclass(frozen=True)
class MemoryModel:
    """Bytes of a training step: ``FACTOR · bytes_per_item · (atoms + edges) +
    fixed_bytes``."""

    bytes_per_item: float
    fixed_bytes: int

    def estimate(self, atoms: int, edges: int) -> int:
        return int(FACTOR * self.bytes_per_item * (atoms + edges) + self.fixed_bytes)


@dataclass(frozen=True)
class MemoryBudget:
    """The cost model of a run and the bytes one step may use on each process of
    ``device``."""

    model: MemoryModel
    available: int
    device: str = "cpu"

    def fits(self, atoms: int, edges: int) -> bool:
        return self.model.estimate(atoms, edges) <= self.available

    def refuse(self, where: str, atoms: int, edges: int) -> BatchingError:
        """The error for a structure (``where``, e.g. "structure 3 of 'x.xyz'") that
        does not fit alone."""
        return BatchingError(
            f"{where} ({atoms} atoms, {edges} neighbour pairs) needs about "
            f"{format_bytes(self.model.estimate(atoms, edges))} of memory for one "
            f"training step of this model, more than the "
            f"{format_bytes(self.available)} a step may use on {self.device} "
            f"({USABLE_FRACTION:.0%} of the memory available when training "
            "started); batches of several structures are split to fit, as "
            "max_atoms_per_batch would split them, but one structure cannot be: "
            "leave it out (indices of its dataset section), or train with more "
            "memory, a smaller cutoff or a smaller model"
        )


def format_bytes(count: int) -> str:
    """``"1.5 GB"``, ``"320 MB"``."""
    if count >= 1e9:
        return f"{count / 1e9:.1f} GB"
    return f"{count / 1e6:.0f} MB" if count >= 1e6 else f"{count / 1e3:.0f} kB"


def available_bytes(device: torch.device) -> Optional[int]:
    """Bytes of memory free for this process on ``device``, or None when unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    available = _meminfo_available()
    if available is None:
        return None
    room = _cgroup_room()
    return available if room is None else min(available, room)


def _meminfo_available() -> Optional[int]:
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _cgroup_room() -> Optional[int]:
    """What the cgroup (v2) of this process may still allocate, if it is limited."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        current = int((root / "memory.current").read_text())
    except (OSError, ValueError):
        return None
    if limit == "max":
        return None
    return max(int(limit) - current, 0)


def kept_bytes(run: Callable[[], Any], exclude: Sequence[torch.Tensor] = ()) -> int:
    """Bytes of the tensors autograd keeps for the backward pass while ``run()``
    builds its graph (each storage once, those of ``exclude`` not at all)."""
    excluded = {int(t.untyped_storage().data_ptr()) for t in exclude}
    storages: Dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if int(storage.data_ptr()) not in excluded:
            storages[int(storage.data_ptr())] = int(storage.nbytes())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        run()
    return sum(storages.values())


def measure_cost(
    build_graph: Callable[[], Any],
    parameters: Sequence[torch.Tensor],
    atoms: int,
    edges: int,
    device: torch.device,
) -> MemoryModel:
    """The cost model from ``build_graph()`` building the graph of one training step
    on a structure of ``atoms`` atoms and ``edges`` pairs. Random generators are left
    as they were, so that the measure changes nothing in the run."""
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        kept = kept_bytes(build_graph, exclude=parameters)
    fixed = PARAMETER_COPIES * sum(p.numel() * p.element_size() for p in parameters)
    return MemoryModel(kept / max(atoms + edges, 1), fixed)


def memory_budget(
    model: Optional[MemoryModel], device: torch.device, available: Optional[int] = None
) -> Optional[MemoryBudget]:
    """The budget of a step on ``device`` (``available``: the free bytes, measured
    when not given), agreed by every process: the smallest memory and the largest
    cost. None when the free memory or the cost is unknown on some process."""
    free = available if available is not None else available_bytes(device)
    usable = None if free is None else int(USABLE_FRACTION * free)
    gathered = distributed.all_gather_object((usable, model))
    known = [(u, m) for u, m in gathered if u is not None and m is not None]
    if len(known) < len(gathered):
        return None
    return MemoryBudget(
        MemoryModel(
            max(m.bytes_per_item for _, m in known),
            max(m.fixed_bytes for _, m in known),
        ),
        min(u for u, _ in known),
        str(device),
    )


def guard_memory(
    batches: BatchFactory,
    step_graph: Callable[[Batch], Any],
    parameters: Sequence[torch.Tensor],
    training: List[Dataset],
    others: List[Dataset],
    device: torch.device,
    available: Optional[int] = None,
) -> Optional[MemoryBudget]:
    """Measure the cost model with ``step_graph(batch)`` (the graph of a training
    step) on the smallest structure of the first non-empty ``training`` dataset,
    give ``batches`` the budget, and refuse the first structure of ``training`` and
    ``others`` that does not fit alone (see the module docstring). ``available``:
    the free bytes (default: measured). The budget, or None where the free memory
    is unknown or the measure itself runs out of device memory."""
    probe = next((dataset for dataset in training if len(dataset) > 0), None)
    if probe is None:
        return None
    atoms = probe.num_atoms()
    index = min(range(len(atoms)), key=atoms.__getitem__)
    _, edges = batches.structure_size(probe, index)
    cost: Optional[MemoryModel] = None
    try:
        batch = batches.build(probe, [index], train=True)
        cost = measure_cost(
            lambda: step_graph(batch), parameters, atoms[index], edges, device
        )
    except torch.cuda.OutOfMemoryError:
        # even the smallest structure does not fit: the training step reports it
        torch.cuda.empty_cache()
    budget = memory_budget(cost, device, available)
    if budget is None:
        return None
    for dataset in [*training, *others]:
        sizes = zip(dataset.num_atoms(), batches.edges_per_structure(dataset))
        for number, (count, pairs) in enumerate(sizes):
            if not budget.fits(count, pairs):
                raise budget.refuse(dataset.describe(number), count, pairs)
    batches.memory = budget
    return budget
