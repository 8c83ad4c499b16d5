"""Counts and label statistics of datasets, as ``atomtrain check`` and ``train`` print
them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch

from .dataset import Dataset


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


def _describe(name: str, unit: str, values: torch.Tensor) -> TargetStatistics:
    values = values[torch.isfinite(values)]
    if values.numel() == 0:
        nan = float("nan")
        return TargetStatistics(name, unit, 0, nan, nan, nan, nan)
    return TargetStatistics(
        name=name,
        unit=unit,
        count=int(values.numel()),
        mean=float(values.mean()),
        std=float(values.std()) if values.numel() > 1 else 0.0,
        minimum=float(values.min()),
        maximum=float(values.max()),
    )


def dataset_statistics(dataset: Dataset, name: str) -> DatasetStatistics:
    """Sizes and, per target, statistics of the labels in their declared units:
    energies per structure, forces as components (= -dE/dr), stress and virial as
    strain-gradient components."""
    atoms = dataset.num_atoms()
    elements: set[int] = set()
    targets: List[TargetStatistics] = []
    for i in range(len(dataset)):
        elements.update(int(t) for t in torch.unique(dataset[i].types))
    length = dataset.info.length_unit
    for target, info in dataset.info.targets.items():
        structures = [dataset[i].targets[target] for i in range(len(dataset))]
        values = torch.cat([b.reshape(-1) for s in structures for b in s.blocks])
        targets.append(_describe(target, info.unit, values))
        if "positions" in info.gradients:
            forces = torch.cat(
                [-s.gradients["positions"].reshape(-1) for s in structures]
            )
            targets.append(
                _describe(f"{target} forces", f"{info.unit}/{length}", forces)
            )
        if "strain" in info.gradients:
            strain = torch.cat([s.gradients["strain"].reshape(-1) for s in structures])
            targets.append(_describe(f"{target} strain gradient", info.unit, strain))
    return DatasetStatistics(
        name=name,
        num_structures=len(dataset),
        num_atoms=sum(atoms),
        min_atoms=min(atoms) if atoms else 0,
        max_atoms=max(atoms) if atoms else 0,
        elements=sorted(elements),
        targets=targets,
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
