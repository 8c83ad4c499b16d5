"""Which launcher started this process, read from the environment.

- **torchrun** sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``,
  ``MASTER_ADDR`` and ``MASTER_PORT``;
- **SLURM** ``srun`` sets ``SLURM_PROCID``, ``SLURM_STEP_NUM_TASKS`` (or
  ``SLURM_NTASKS``), ``SLURM_LOCALID`` and ``SLURM_STEP_NODELIST`` (or
  ``SLURM_JOB_NODELIST``) in every task of a job step. Only a job *step* counts
  (``SLURM_STEP_ID`` set): a batch script itself is one process even when the job has
  several tasks. The master address is ``MASTER_ADDR`` or the first host of the node
  list; the port is ``MASTER_PORT`` or ``15000 + SLURM_JOB_ID % 10000``, so that two
  jobs sharing a node do not collide and the port stays below Linux's ephemeral range.

torchrun wins when both are present (torchrun started inside a SLURM job).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import List, Mapping, Optional

from ..errors import UserError

#: First port of the range used under SLURM when ``MASTER_PORT`` is not set.
SLURM_PORT_BASE = 15000


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
        # torchrun's own default when one node runs every process
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
