"""Counts and label statistics of datasets, as ``atomtrain check`` and ``train`` print
them, computed in one streaming pass (:class:`RunningStatistics`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Tuple

import torch

from .dataset import Dataset
from .units import gradient_unit


@dataclass(frozen=True)
class TargetStatistics:
    """Statistics of one target (or of its forces/stress) over a dataset."""

    name: str
    unit: str
    count: int
    mean: float
    std: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class DatasetStatistics:
    """Sizes, elements and per-target statistics of one dataset."""

    name: str
    num_structures: int
    num_atoms: int
    min_atoms: int
    max_atoms: int
    elements: List[int]
    targets: List[TargetStatistics]
    #: The files the structures were read from, in order of first appearance.
    files: Tuple[str, ...] = ()


class RunningStatistics:
    """Count, mean, standard deviation (with Bessel's correction), minimum and
    maximum of the finite values added so far, in float64: a pass over a dataset
    of any size keeps only these (chunks are merged with Chan's formula)."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self._m2 = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf

    def add(self, values: torch.Tensor) -> None:
        """Add the finite entries of ``values`` (any shape)."""
        values = values.detach().reshape(-1).to(torch.float64)
        values = values[torch.isfinite(values)]
        count = int(values.numel())
        if count == 0:
            return
        mean = float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.count + count
        delta = mean - self.mean
        self._m2 += m2 + delta**2 * self.count * count / total
        self.mean += delta * count / total
        self.count = total
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))

    @property
    def std(self) -> float:
        return math.sqrt(self._m2 / (self.count - 1)) if self.count > 1 else 0.0

    def describe(self, name: str, unit: str) -> TargetStatistics:
        if self.count == 0:
            nan = float("nan")
            return TargetStatistics(name, unit, 0, nan, nan, nan, nan)
        return TargetStatistics(
            name, unit, self.count, self.mean, self.std, self.minimum, self.maximum
        )


#: Structures whose values are added to running statistics together.
CHUNK = 4096


def dataset_statistics(dataset: Dataset, name: str) -> DatasetStatistics:
    """Sizes and, per target, statistics of the labels in their declared units:
    energies per structure, forces as components (= -dE/dr), stress and virial as
    strain-gradient components. One pass over the dataset, in bounded memory."""
    atoms = dataset.num_atoms()
    elements: set[int] = set()
    files: Dict[str, None] = {}
    length = dataset.info.length_unit
    # (target, part, name, unit): part is "values", "positions" or "strain"
    described: List[Tuple[str, str, str, str]] = []
    for target, info in dataset.info.targets.items():
        described.append((target, "values", target, info.unit))
        for part, label in (("positions", "forces"), ("strain", "strain gradient")):
            if part in info.gradients:
                unit = gradient_unit(info.unit, length, part)
                described.append((target, part, f"{target} {label}", unit))
    running = [RunningStatistics() for _ in described]
    pending: List[List[torch.Tensor]] = [[] for _ in described]
    for i in range(len(dataset)):
        structure = dataset[i]
        files.setdefault(dataset.origin(i)[0])
        elements.update(int(t) for t in torch.unique(structure.types))
        for k, (target, part, _, _) in enumerate(described):
            data = structure.targets[target]
            if part == "values":
                pending[k].extend(b.reshape(-1) for b in data.blocks)
            elif part in data.gradients:
                sign = -1.0 if part == "positions" else 1.0
                pending[k].append(sign * data.gradients[part].reshape(-1))
        if (i + 1) % CHUNK == 0 or i + 1 == len(dataset):
            for statistics, values in zip(running, pending):
                if values:
                    statistics.add(torch.cat(values))
                values.clear()
    return DatasetStatistics(
        name=name,
        num_structures=len(dataset),
        num_atoms=sum(atoms),
        min_atoms=min(atoms) if atoms else 0,
        max_atoms=max(atoms) if atoms else 0,
        elements=sorted(elements),
        targets=[
            statistics.describe(label, unit)
            for statistics, (_, _, label, unit) in zip(running, described)
        ],
        files=tuple(files),
    )


def format_statistics(statistics: List[DatasetStatistics]) -> str:
    """An aligned plain-text table of several datasets' statistics."""
    lines = []
    for stats in statistics:
        lines.append(
            f"{stats.name}: {stats.num_structures} structures, {stats.num_atoms} atoms "
            f"({stats.min_atoms}-{stats.max_atoms} per structure), elements "
            f"{', '.join(str(e) for e in stats.elements)}"
        )
        if stats.files:
            lines.append(f"  read from {', '.join(repr(f) for f in stats.files)}")
        if not stats.targets:
            continue
        width = max(len(t.name) for t in stats.targets)
        lines.append(
            f"  {'target':<{width}}  {'count':>8}  {'mean':>12}  {'std':>12}  "
            f"{'min':>12}  {'max':>12}  unit"
        )
        for t in stats.targets:
            lines.append(
                f"  {t.name:<{width}}  {t.count:>8}  {t.mean:>12.6g}  {t.std:>12.6g}  "
                f"{t.minimum:>12.6g}  {t.maximum:>12.6g}  {t.unit or '-'}"
            )
    return "\n".join(lines)
