"""The training state as plain data, for checkpoints and exact restarts.

:class:`TrainingState` holds everything besides the model's own weights that a restart
needs to continue exactly where a run stopped: position (epoch and batch), optimiser,
schedule, EMA, best model and best metric, partial epoch sums, random number generator
states, and a fingerprint of the options and the data that a restart compares.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from ..data.dataset import Dataset
from .hypers import RUN_SETTINGS


def capture_rng() -> Dict[str, Any]:
    """The states of torch's, numpy's and Python's global generators, as plain data."""
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    return {
        "torch": torch.get_rng_state(),
        "python": [version, list(internal), gauss],
        "numpy": [
            kind,
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            position,
            has_gauss,
            cached,
        ],
    }


def restore_rng(state: Dict[str, Any]) -> None:
    """Put back generator states taken by :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state(
        (kind, keys.numpy().astype(np.uint32), position, has_gauss, cached)
    )


def fingerprint(hypers: Dict[str, Any], datasets: Sequence[Dataset]) -> Dict[str, str]:
    """Hashes of the trainer options and of the training data.

    The data hash covers the number of structures of each dataset and the types,
    positions and labels of up to 64 evenly spaced structures, so that it stays cheap
    for large datasets while catching a changed or reordered file."""
    options = json.dumps(
        {k: v for k, v in hypers.items() if k not in RUN_SETTINGS},
        sort_keys=True,
        default=str,
    )
    data = hashlib.sha256()
    for dataset in datasets:
        data.update(str(len(dataset)).encode())
        count = len(dataset)
        for index in sorted(
            {int(i) for i in np.linspace(0, count - 1, min(count, 64))}
        ):
            structure = dataset[index]
            data.update(structure.types.numpy().tobytes())
            data.update(structure.positions.numpy().tobytes())
            for name in sorted(structure.targets):
                for block in structure.targets[name].blocks:
                    data.update(block.numpy().tobytes())
    return {
        "options": hashlib.sha256(options.encode()).hexdigest(),
        "data": data.hexdigest(),
    }


def fingerprint_changes(stored: Dict[str, str], current: Dict[str, str]) -> List[str]:
    """What differs between two fingerprints (``"options"``, ``"data"``)."""
    return [key for key in ("options", "data") if stored.get(key) != current.get(key)]


@dataclass
class TrainingState:
    """Where training stands; ``epoch`` is the epoch to run next and ``batch`` the
    number of its batches already done (non-zero after an interruption)."""

    epoch: int = 0
    batch: int = 0
    seed: int = 0
    optimizer: Dict[str, Any] = field(default_factory=dict)
    schedule: Dict[str, Any] = field(default_factory=dict)
    ema: Optional[Dict[str, torch.Tensor]] = None
    best_metric: Optional[float] = None
    best_epoch: Optional[int] = None
    best_model_state_dict: Optional[Dict[str, torch.Tensor]] = None
    epochs_without_improvement: int = 0
    partial_epoch: Dict[str, Any] = field(default_factory=dict)
    rng: Dict[str, Any] = field(default_factory=dict)
    fingerprint: Dict[str, str] = field(default_factory=dict)
    scales: Dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> TrainingState:
        return cls(**data)


def track_best(
    state: TrainingState,
    epoch: int,
    key: str,
    value: float,
    patience: Optional[int],
    best_weights: Callable[[], Dict[str, torch.Tensor]],
    log: Callable[[str], None],
) -> bool:
    """Record ``epoch`` as the best so far when ``value`` of the metric ``key`` is
    lower than the best one (keeping ``best_weights()``); True when early stopping
    should stop: no improvement for ``patience`` epochs."""
    best = state.best_metric
    if best is None or value < best:
        reason = "first epoch" if best is None else f"{value:.6g} < {best:.6g}"
        log(f"epoch {epoch} is the best so far by {key} ({reason})")
        state.best_metric, state.best_epoch = value, epoch
        state.epochs_without_improvement = 0
        state.best_model_state_dict = best_weights()
        return False
    state.epochs_without_improvement += 1
    if patience is not None and state.epochs_without_improvement >= patience:
        log(
            f"early stopping at epoch {epoch}: no improvement of {key} for "
            f"{patience} epochs (best {best:.6g} at epoch {state.best_epoch})"
        )
        return True
    return False
