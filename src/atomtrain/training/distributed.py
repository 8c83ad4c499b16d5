"""Several processes training one model: launch detection, the process group, and
the few collective operations the engine needs.

Launchers (torchrun, SLURM ``srun``) are detected by :mod:`.launch`.

GPUs use NCCL and each process takes ``cuda:LOCAL_RANK`` (or the single GPU it sees
when the launcher binds one GPU per task); CPUs use gloo. The backend can be forced
with ``ATOMTRAIN_DIST_BACKEND=gloo|nccl``. A launch that cannot be honoured (NCCL on
CPUs, more processes than GPUs, two processes on one GPU, several devices without a
launcher) raises :class:`DistributedError` on every process before any training.

Every helper works without a process group (one process): ``world_size()`` is 1,
``broadcast_object`` returns its argument, reductions return their input.
"""

from __future__ import annotations

import datetime
import os
import socket
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch
import torch.distributed as dist

from .launch import DistributedError as DistributedError
from .launch import Launch, detect_launch
from .launch import expand_nodelist as expand_nodelist

#: Environment variable forcing the communication backend.
BACKEND_VARIABLE = "ATOMTRAIN_DIST_BACKEND"
#: How long a collective operation waits for the other processes.
TIMEOUT = datetime.timedelta(minutes=30)

_OBJECT_GROUP: Optional[Any] = None


def initialize(
    devices: Sequence[torch.device],
    backend: Optional[str] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> List[torch.device]:
    """Join the process group of a multi-process launch, if any, and return the
    device(s) of this process (``devices`` unchanged when running alone).

    ``devices`` are the resolved ``device`` option. Under a launcher, ``cuda`` or a
    list of CUDA devices gives each process the device of its local rank; ``cpu``
    uses gloo. Raises :class:`DistributedError` for launches that cannot work."""
    env = os.environ if environ is None else environ
    launch = detect_launch(env)
    if launch is None:
        if len(devices) > 1:
            names = ", ".join(str(d) for d in devices)
            raise DistributedError(
                f"device: {len(devices)} devices ({names}) need one process each; "
                f"launch with 'torchrun --nproc_per_node {len(devices)} -m atomtrain "
                "train ...' or 'srun', or choose a single device"
            )
        return list(devices)
    if dist.is_initialized():
        return [_device(launch, devices)]
    backend = backend or env.get(BACKEND_VARIABLE) or None
    device = _device(launch, devices)
    backend = _backend(backend, device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        backend,
        init_method=f"tcp://{_url_host(launch.master_addr)}:{launch.master_port}",
        rank=launch.rank,
        world_size=launch.world_size,
        timeout=TIMEOUT,
        device_id=device if backend == "nccl" else None,
    )
    global _OBJECT_GROUP
    _OBJECT_GROUP = dist.new_group(backend="gloo") if backend != "gloo" else None
    if device.type == "cuda":
        _check_one_process_per_gpu(device)
    return [device]


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _device(launch: Launch, devices: Sequence[torch.device]) -> torch.device:
    kinds = {d.type for d in devices}
    if kinds != {"cuda"}:
        if len(devices) > 1:
            raise DistributedError(
                f"device: under {launch.launcher}, each process trains on one device; "
                f"give 'cuda' or 'cpu' instead of a list with {', '.join(kinds)}"
            )
        return devices[0]
    local = launch.local_rank
    if len(devices) > 1:
        if local >= len(devices):
            raise DistributedError(
                f"device lists {len(devices)} GPUs but this node runs more processes "
                f"(local rank {local}); list one device per process"
            )
        return devices[local]
    if devices[0].index is not None and (launch.local_world_size or 2) > 1:
        raise DistributedError(
            f"device: '{devices[0]}' names one GPU but {launch.launcher} started "
            "several processes on this node; use device: cuda so that each process "
            "takes the GPU of its local rank"
        )
    count = torch.cuda.device_count()
    if launch.local_world_size is not None and launch.local_world_size > count > 1:
        raise DistributedError(
            f"{launch.local_world_size} processes on this node but only {count} GPUs; "
            "launch at most one process per GPU"
        )
    if local < count:
        return torch.device("cuda", local)
    if count == 1:
        return torch.device("cuda", 0)
    raise DistributedError(
        f"process of local rank {local} has no GPU: this node has {count}; launch "
        "at most one process per GPU"
    )


def _backend(requested: Optional[str], device: torch.device) -> str:
    if requested is not None and requested not in ("gloo", "nccl"):
        raise DistributedError(
            f"{BACKEND_VARIABLE}={requested!r}: expected 'gloo' or 'nccl'"
        )
    if requested == "nccl" and device.type != "cuda":
        raise DistributedError(
            f"{BACKEND_VARIABLE}=nccl needs GPUs but the device is '{device}'; use "
            "gloo on CPUs (the default)"
        )
    if requested is not None:
        return requested
    return "nccl" if device.type == "cuda" else "gloo"


def _check_one_process_per_gpu(device: torch.device) -> None:
    uuid = str(torch.cuda.get_device_properties(device).uuid)
    everyone = all_gather_object((socket.gethostname(), uuid))
    seen: Dict[Any, int] = {}
    for rank, key in enumerate(everyone):
        if key in seen:
            raise DistributedError(
                f"processes {seen[key]} and {rank} share the GPU {key[1]} on "
                f"{key[0]}; launch at most one process per GPU"
            )
        seen[key] = rank


def check_shareable(structures: int) -> None:
    """Raise when ``structures`` training structures cannot give every process at
    least one (the same error on every process)."""
    world = world_size()
    if structures < world:
        raise DistributedError(
            f"{structures} training structures cannot be shared between {world} "
            "processes; use fewer processes or more training data"
        )


def shutdown() -> None:
    """Leave the process group (no-op when running alone)."""
    global _OBJECT_GROUP
    if dist.is_initialized():
        # every process reaches this point before the groups go away: gloo aborts a
        # process whose peer tears its connections down first
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()
    _OBJECT_GROUP = None


# ---- where this process stands ------------------------------------------------


def world_size() -> int:
    """Number of processes training together (1 without a process group)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if dist.is_initialized() else 0


def is_main_process() -> bool:
    """True on the process that writes files (rank 0)."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process reaches this point."""
    if world_size() > 1:
        dist.barrier(group=_OBJECT_GROUP)


# ---- collectives ------------------------------------------------------------------


def broadcast_object(value: Any, source: int = 0) -> Any:
    """``value`` as given on rank ``source``, on every rank (picklable objects)."""
    if world_size() == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=source, group=_OBJECT_GROUP)
    return box[0]


def run_on_main(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` run on rank 0 only, its result broadcast to
    every rank (for example creating the run directory). An exception raised on rank
    0 is raised on every rank, so that none waits for the others."""
    if world_size() == 1:
        return function(*args, **kwargs)
    outcome: Any = None
    failure: Optional[Exception] = None
    if is_main_process():
        try:
            outcome = ("value", function(*args, **kwargs))
        except Exception as error:
            # exceptions do not always survive pickling: send the message
            failure, outcome = error, ("error", str(error))
    kind, value = broadcast_object(outcome)
    if failure is not None:
        raise failure
    if kind == "error":
        raise DistributedError(f"rank 0 failed: {value}")
    return value


def all_gather_object(value: Any) -> List[Any]:
    """The ``value`` of every rank, in rank order."""
    if world_size() == 1:
        return [value]
    gathered: List[Any] = [None] * world_size()
    dist.all_gather_object(gathered, value, group=_OBJECT_GROUP)
    return gathered


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``tensor`` over every rank (a new tensor)."""
    if world_size() == 1:
        return tensor
    total = tensor.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM, group=_group_for(total))
    return total


def _group_for(tensor: torch.Tensor) -> Optional[Any]:
    """The group that can carry ``tensor``: under NCCL, CPU tensors go through the
    gloo group kept for objects."""
    return _OBJECT_GROUP if tensor.device.type == "cpu" else None


def broadcast_module(module: torch.nn.Module, source: int = 0) -> None:
    """Copy the parameters and buffers of rank ``source`` into every rank's module."""
    if world_size() == 1:
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=source, group=_group_for(tensor))


def all_reduce_gradients(parameters: Sequence[torch.nn.Parameter]) -> None:
    """Sum the gradients of ``parameters`` over every rank, in one flat buffer.

    A parameter without gradient on some ranks counts as zero there; one without
    gradient on every rank keeps ``grad = None``, as in a single process (so that the
    optimiser skips it)."""
    if world_size() == 1:
        return
    groups: Dict[Any, List[torch.nn.Parameter]] = {}
    for parameter in parameters:
        groups.setdefault((parameter.dtype, parameter.device), []).append(parameter)
    for group in groups.values():
        _all_reduce_group(group)


def _all_reduce_group(parameters: List[torch.nn.Parameter]) -> None:
    """:func:`all_reduce_gradients` for parameters of one dtype and device."""
    first = parameters[0]
    pieces = [
        torch.zeros(p.numel(), dtype=first.dtype, device=first.device)
        if p.grad is None
        else p.grad.reshape(-1)
        for p in parameters
    ]
    present = [0.0 if p.grad is None else 1.0 for p in parameters]
    pieces.append(torch.tensor(present, dtype=first.dtype, device=first.device))
    flat = torch.cat(pieces)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=_group_for(flat))
    flags = flat[-len(parameters) :].tolist()
    offset = 0
    for parameter, flag in zip(parameters, flags):
        size = parameter.numel()
        values = flat[offset : offset + size].view_as(parameter)
        parameter.grad = values.clone() if flag > 0 else None
        offset += size
