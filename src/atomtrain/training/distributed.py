"""Several processes training one model: launch detection, the process group, and
the few collective operations the engine needs.

Launchers are detected from the environment, torchrun first:

- **torchrun** sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``,
  ``MASTER_ADDR`` and ``MASTER_PORT``;
- **SLURM** ``srun`` sets ``SLURM_PROCID``, ``SLURM_STEP_NUM_TASKS`` (or
  ``SLURM_NTASKS``), ``SLURM_LOCALID`` and ``SLURM_STEP_NODELIST`` (or
  ``SLURM_JOB_NODELIST``) in every task of a job step. Only a job *step* counts
  (``SLURM_STEP_ID`` set): a batch script itself is one process even when the job has
  several tasks. The master address is ``MASTER_ADDR`` or the first host of the node
  list; the port is ``MASTER_PORT`` or ``15000 + SLURM_JOB_ID % 10000``, so that two
  jobs sharing a node do not collide and the port stays below Linux's ephemeral range.

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
import re
import socket
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import torch
import torch.distributed as dist

from ..errors import UserError

#: First port of the range used under SLURM when ``MASTER_PORT`` is not set.
SLURM_PORT_BASE = 15000
#: Environment variable forcing the communication backend.
BACKEND_VARIABLE = "ATOMTRAIN_DIST_BACKEND"
#: How long a collective operation waits for the other processes.
TIMEOUT = datetime.timedelta(minutes=30)

_OBJECT_GROUP: Optional[Any] = None


class DistributedError(UserError):
    """A multi-process launch that cannot be honoured as configured."""


@dataclass(frozen=True)
class Launch:
    """Where this process stands in a multi-process launch."""

    launcher: str
    rank: int
    world_size: int
    local_rank: int
    local_world_size: Optional[int]
    master_addr: str
    master_port: int


def expand_nodelist(nodelist: str) -> List[str]:
    """The host names of a SLURM node list, in order:
    ``"gpu[01-03,07],login1"`` → ``["gpu01", "gpu02", "gpu03", "gpu07", "login1"]``.
    Ranges keep their zero padding; several bracket groups in one name expand as a
    product (``"r[1-2]n[1-2]"`` → ``r1n1, r1n2, r2n1, r2n2``)."""
    hosts: List[str] = []
    for name in _split_top_level(nodelist.strip()):
        hosts.extend(_expand_name(name))
    return hosts


def _split_top_level(text: str) -> List[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if depth != 0:
        raise DistributedError(f"unbalanced brackets in the SLURM node list {text!r}")
    parts.append(current)
    return [part for part in parts if part]


def _expand_name(name: str) -> List[str]:
    match = re.search(r"\[([^\]]*)\]", name)
    if match is None:
        return [name]
    prefix, suffix = name[: match.start()], name[match.end() :]
    expanded = []
    for item in match.group(1).split(","):
        if "-" in item:
            low, high = item.split("-", 1)
            width = len(low)
            numbers = [str(n).zfill(width) for n in range(int(low), int(high) + 1)]
        else:
            numbers = [item]
        for number in numbers:
            expanded.extend(_expand_name(prefix + number + suffix))
    return expanded


def _integer(environ: Mapping[str, str], name: str) -> int:
    value = environ[name]
    try:
        return int(value)
    except ValueError:
        raise DistributedError(
            f"the environment variable {name}={value!r} is not an integer"
        ) from None


def detect_launch(environ: Optional[Mapping[str, str]] = None) -> Optional[Launch]:
    """The launch this process belongs to, or None when it runs alone (no launcher,
    or a launcher with one process)."""
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        launch = _torchrun(env)
    elif "SLURM_PROCID" in env and "SLURM_STEP_ID" in env:
        launch = _slurm(env)
    else:
        return None
    return launch if launch.world_size > 1 else None


def _torchrun(env: Mapping[str, str]) -> Launch:
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if v not in env]
    if missing and _integer(env, "WORLD_SIZE") > 1:
        raise DistributedError(
            f"RANK and WORLD_SIZE are set but {' and '.join(missing)} not; launch "
            "with torchrun, or set MASTER_ADDR and MASTER_PORT"
        )
    return Launch(
        launcher="torchrun",
        rank=_integer(env, "RANK"),
        world_size=_integer(env, "WORLD_SIZE"),
        local_rank=_integer(env, "LOCAL_RANK") if "LOCAL_RANK" in env else 0,
        local_world_size=(
            _integer(env, "LOCAL_WORLD_SIZE") if "LOCAL_WORLD_SIZE" in env else None
        ),
        master_addr=env.get("MASTER_ADDR", "127.0.0.1"),
        master_port=_integer(env, "MASTER_PORT") if "MASTER_PORT" in env else 0,
    )


def _slurm(env: Mapping[str, str]) -> Launch:
    tasks = "SLURM_STEP_NUM_TASKS" if "SLURM_STEP_NUM_TASKS" in env else "SLURM_NTASKS"
    world = _integer(env, tasks) if tasks in env else 1
    if "MASTER_ADDR" in env:
        address = env["MASTER_ADDR"]
    else:
        nodelist = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST")
        nodelist = nodelist or env.get("SLURM_NODELIST")
        if not nodelist and world > 1:
            raise DistributedError(
                "SLURM runs several tasks but gives no node list "
                "(SLURM_STEP_NODELIST); set MASTER_ADDR to the first node's address"
            )
        address = expand_nodelist(nodelist)[0] if nodelist else "127.0.0.1"
    if "MASTER_PORT" in env:
        port = _integer(env, "MASTER_PORT")
    else:
        job = _integer(env, "SLURM_JOB_ID") if "SLURM_JOB_ID" in env else 0
        port = SLURM_PORT_BASE + job % 10000
    # "4" or "4(x2)" when every node runs the same number of tasks
    per_node = re.match(r"^(\d+)(\(x\d+\))?$", env.get("SLURM_STEP_TASKS_PER_NODE", ""))
    return Launch(
        launcher="slurm",
        rank=_integer(env, "SLURM_PROCID"),
        world_size=world,
        local_rank=_integer(env, "SLURM_LOCALID") if "SLURM_LOCALID" in env else 0,
        local_world_size=int(per_node.group(1)) if per_node else None,
        master_addr=address,
        master_port=port,
    )


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
