"""The composition baseline's fit: what one pass over the data gathers (compact: a row
of atom counts and the labels per structure, or sums and counts per type), and the
solves on it, least squares on atom counts for per-structure targets, means per type
for per-atom targets, in float64; ``fixed_mask``/``fixed_weights`` ``[n_types]`` keep
the user's per-type values."""

from typing import Callable, Dict, List, Sequence, Tuple

import torch

from ..data.dataset import Dataset
from ..data.info import TargetInfo

#: The invariant part of a label: ``(info, block) -> [n_samples, n_properties]``.
InvariantPart = Callable[[TargetInfo, torch.Tensor], torch.Tensor]


def fit_per_structure(
    counts: torch.Tensor,
    labels: torch.Tensor,
    fixed_mask: torch.Tensor,
    fixed_weights: torch.Tensor,
) -> torch.Tensor:
    """Least squares on atom counts ``[n_structures, n_types]`` against labels
    ``[n_structures, n_properties]``, one property at a time so that a NaN label
    only drops its own property."""
    n_properties = labels.shape[1]
    weights = fixed_weights.unsqueeze(1).repeat(1, n_properties)
    if len(labels) == 0:
        return weights
    targets = labels - counts @ weights
    for p in range(n_properties):
        rows = torch.isfinite(targets[:, p])
        free = ~fixed_mask & (counts[rows].sum(dim=0) > 0)
        if not bool(rows.any()) or not bool(free.any()):
            continue
        solution = torch.linalg.lstsq(
            counts[rows][:, free], targets[rows, p : p + 1], driver="gelsd"
        ).solution
        weights[free, p] = solution[:, 0]
    return weights


def fit_per_atom(
    sums: torch.Tensor,
    counts: torch.Tensor,
    fixed_mask: torch.Tensor,
    fixed_weights: torch.Tensor,
) -> torch.Tensor:
    """Mean of each property over the atoms of each type, from the ``sums`` and
    ``counts`` ``[n_types, n_properties]`` of the finite labels."""
    weights = fixed_weights.unsqueeze(1).repeat(1, sums.shape[1])
    free = ~fixed_mask.unsqueeze(1) & (counts > 0)
    weights[free] = sums[free] / counts[free]
    return weights


#: Structures gathered before their rows are joined into one tensor.
CHUNK = 4096


class GatheredLabels:
    """What the fit of one target needs from the data, gathered one structure at a
    time in bounded memory: for a per-structure target the atom counts per type and
    the labels of every labelled structure (``n_types + n_properties`` numbers
    each), for a per-atom one the sums and counts of the finite labels per type."""

    def __init__(self, n_types: int, n_properties: int, per_atom: bool) -> None:
        self.n_types = n_types
        self.per_atom = per_atom
        self.labelled = 0
        self._rows: List[torch.Tensor] = []
        self._labels: List[torch.Tensor] = []
        self._chunks: List[Tuple[torch.Tensor, torch.Tensor]] = []
        self.sums = torch.zeros((n_types, n_properties), dtype=torch.float64)
        self.counts = torch.zeros((n_types, n_properties), dtype=torch.float64)

    def add(self, type_index: torch.Tensor, label: torch.Tensor) -> None:
        """One structure: the index of each atom's type, its label block."""
        self.labelled += 1
        if self.per_atom:
            values = label.reshape(label.shape[0], -1)
            known = torch.isfinite(values)
            self.sums.index_add_(0, type_index, torch.where(known, values, 0.0))
            self.counts.index_add_(0, type_index, known.to(torch.float64))
            return
        self._rows.append(torch.bincount(type_index, minlength=self.n_types))
        self._labels.append(label.reshape(1, -1))
        if len(self._rows) == CHUNK:
            self._join()

    def _join(self) -> None:
        if self._rows:
            rows = torch.stack(self._rows).to(torch.float64)
            self._chunks.append((rows, torch.cat(self._labels)))
            self._rows, self._labels = [], []

    def arrays(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Per structure: counts ``[n, n_types]`` and labels ``[n, n_properties]``;
        per atom: sums and counts ``[n_types, n_properties]``."""
        if self.per_atom:
            return self.sums, self.counts
        self._join()
        if not self._chunks:
            empty = torch.zeros((0, self.n_types), dtype=torch.float64)
            return empty, torch.zeros((0, self.sums.shape[1]), dtype=torch.float64)
        return (
            torch.cat([rows for rows, _ in self._chunks]),
            torch.cat([labels for _, labels in self._chunks]),
        )


def gather_labels(
    datasets: Sequence[Dataset],
    targets: Dict[str, TargetInfo],
    n_types: int,
    type_index: Callable[[torch.Tensor, Dataset, int], torch.Tensor],
    blocks: Dict[str, int],
    invariant: InvariantPart,
) -> Dict[str, GatheredLabels]:
    """What the fit of every target needs, in one pass over ``datasets``;
    structures without a target are skipped for it. ``type_index(types, dataset,
    index)``: the row of each atom's type in the weights (an error naming the
    structure for an unknown type); ``blocks[name]``: the label block fitted,
    reduced to its invariant part by ``invariant``."""
    gathered = {
        name: GatheredLabels(n_types, info.num_subtargets, info.per_atom)
        for name, info in targets.items()
    }
    for dataset in datasets:
        for i in range(len(dataset)):
            structure = dataset[i]
            present = [n for n in targets if n in structure.targets]
            if not present:
                continue
            index = type_index(structure.types, dataset, i)
            for name in present:
                label = structure.targets[name].blocks[blocks[name]]
                label = invariant(targets[name], label.to(torch.float64))
                gathered[name].add(index, label)
    return gathered
