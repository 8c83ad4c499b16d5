"""Training on residuals: the composition baseline removed from the labels, and the
per-target scales of the loss.

The engine fits the model's :class:`~atomtrain.modules.composition.CompositionBaseline`
once on the training sets, then trains the model *without* it on labels from which the
baseline was subtracted in float64 (:class:`ResidualDataset`, computed once per
structure). This keeps large absolute energies out of the model's precision, and makes
the loss scale meaningful. Models that hold a baseline declare it
(:class:`~atomtrain.utils.abc.WithCompositionBaseline`) and call it in ``forward``;
:func:`without_baseline` switches it off while the engine trains.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from ..data.dataset import Dataset
from ..data.info import TargetInfo
from ..data.statistics import CHUNK, RunningStatistics
from ..data.structure import Structure, TargetData
from ..modules.composition import CompositionBaseline
from ..utils.abc import WithCompositionBaseline, WithOutputScaler
from .logging import LOGGER
from .metrics import irrep_quantities


@contextlib.contextmanager
def without_baseline(model: Any) -> Iterator[None]:
    """Within the block, ``model``'s composition baseline (if it declares one)
    predicts nothing, so that the model predicts the residual labels."""
    if not isinstance(model, WithCompositionBaseline):
        yield
        return
    baseline = model.composition_baseline
    baseline.active = False
    try:
        yield
    finally:
        baseline.active = True


class ResidualDataset(Dataset):
    """``dataset`` with the baseline of ``targets`` subtracted from the labels.

    Residuals are computed when a structure is read (a look-up of one weight per
    atom), not kept: a dataset larger than memory stays on disk."""

    def __init__(
        self, dataset: Dataset, baseline: CompositionBaseline, targets: Sequence[str]
    ) -> None:
        self.dataset = dataset
        self.info = dataset.info
        self.baseline = baseline
        self.targets = [t for t in targets if t in baseline.supported_targets]

    def __len__(self) -> int:
        return len(self.dataset)

    def subset(self, indices: Sequence[int]) -> ResidualDataset:
        return ResidualDataset(
            self.dataset.subset(indices), self.baseline, self.targets
        )

    def __getitem__(self, index: int) -> Structure:
        structure = self.dataset[index]
        targets = dict(structure.targets)
        for name in self.targets:
            if name in targets:
                contribution = self.baseline.contributions(structure.types, name)
                data = targets[name]
                blocks = list(data.blocks)
                index = self.baseline.label_block(name)
                blocks[index] = blocks[index].to(torch.float64) - contribution
                targets[name] = TargetData(blocks, data.gradients)
        return Structure(
            structure.types,
            structure.positions,
            structure.cell,
            structure.pbc,
            targets,
            structure.extra_data,
        )

    def geometry(self, index: int) -> Structure:
        return self.dataset.geometry(index)

    def origin(self, index: int) -> Tuple[str, int]:
        return self.dataset.origin(index)

    def num_atoms(self) -> Sequence[int]:
        return self.dataset.num_atoms()


def residuals(
    datasets: Sequence[Dataset],
    baseline: Optional[CompositionBaseline],
    targets: Sequence[str],
) -> List[Dataset]:
    """``datasets`` with ``baseline`` subtracted from the labels of ``targets`` (as
    they are without a baseline)."""
    if baseline is None:
        return list(datasets)
    return [ResidualDataset(d, baseline, targets) for d in datasets]


def target_scales(
    datasets: Sequence[Dataset],
    targets: Sequence[str],
    per_atom_normalised: Sequence[str],
    infos: Optional[Dict[str, TargetInfo]] = None,
) -> Dict[str, float]:
    """Standard deviation of each target's labels over ``datasets`` (per atom for the
    normalised per-structure targets; NaN labels skipped), in one streaming pass. A
    target without spread gets 1. The blocks of a spherical target of several irreps
    (``infos`` gives the targets' layouts) also get one scale each, the root mean
    square of their values, under ``<target>.irrep_<λ>_<σ>``."""
    parts = {name: [name] for name in targets}
    for name, info in (infos or {}).items():
        if name in parts:
            parts[name] += [f"{name}.{irrep}" for irrep in irrep_quantities(info)]
    running = {part: RunningStatistics() for name in targets for part in parts[name]}
    pending: Dict[str, List[torch.Tensor]] = {part: [] for part in running}
    for dataset in datasets:
        for index in range(len(dataset)):
            structure = dataset[index]
            for name in targets:
                if name not in structure.targets:
                    continue
                blocks = [
                    b.reshape(-1).to(torch.float64)
                    for b in structure.targets[name].blocks
                ]
                if name in per_atom_normalised:
                    blocks = [block / len(structure) for block in blocks]
                pending[name].append(torch.cat(blocks))
                for part, block in zip(parts[name][1:], blocks):
                    pending[part].append(block)
            if (index + 1) % CHUNK == 0 or index + 1 == len(dataset):
                for part, values in pending.items():
                    if values:
                        running[part].add(torch.cat(values))
                    values.clear()
    scales = {name: running[name].std or 1.0 for name in targets}
    for name in targets:
        for part in parts[name][1:]:
            rms = math.hypot(running[part].mean, running[part].std)
            scales[part] = rms or 1.0
    return scales


def fit_output_scales(
    model: Any,
    datasets: Sequence[Dataset],
    targets: Dict[str, TargetInfo],
    baseline: Optional[CompositionBaseline],
) -> None:
    """Fit the output scales of a model that declares
    :class:`~atomtrain.utils.abc.WithOutputScaler` (those not fitted yet: a restarted
    or fine-tuned model keeps its own) on the residual training labels, and log
    them."""
    if not isinstance(model, WithOutputScaler):
        return
    scaler = model.output_scaler
    fitted = scaler.fit(datasets, targets, baseline)
    for name in fitted:
        scales = ", ".join(f"{v:.4g}" for v in scaler.scale(name).tolist())
        LOGGER.info(f"output scale of '{name}': {scales}")
