"""Output scaling: one fitted factor per target and property, multiplying what a
network predicts before the composition baseline is added.

A freshly initialised network predicts per-atom values of order one (in whatever unit
the labels use) and forces that are much smaller than the labels' — for PET on GFN2
ethanol about 0.05-0.1 eV/Å against 1.2 eV/Å. Without a scale, the optimiser first
spends many steps growing the last layers' weights before it learns anything. The
:class:`OutputScaler` a model holds multiplies each target's network output by a
factor fitted once, before training, on the residual labels (labels minus the
composition baseline), so that the network's natural output scale matches the data's:

- energies with position gradients: the root mean square of the residual force
  components times one ångström (expressed in the dataset's length unit). The force
  labels are the bulk of the data (three numbers per atom against one per structure)
  and the per-atom energy scale ``F · 1 Å`` puts them within an order of magnitude of
  an untrained network's forces, where the per-atom energy fluctuation alone (0.02 eV
  for GFN2 ethanol) would leave the forces three orders of magnitude too small;
- per-structure targets without position gradients: the root mean square over
  structures of ``y / sqrt(n_atoms)`` (the per-atom scale of a sum of independent
  atomic contributions);
- per-atom targets: the root mean square of the labels.

Scales are per property (one per subtarget), float64 whatever the model's dtype, and
a target without labels or without spread keeps the scale 1. Each target's scale
remembers whether it was fitted: restarts and fine-tuning keep fitted scales (the
trained weights depend on them), and only targets added since (new heads) are
fitted. The module is TorchScript-compatible.
"""

import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from metatomic.torch import unit_conversion_factor

from ..composition.baseline import CompositionBaseline
from ..data.dataset import Dataset
from ..data.info import TargetInfo
from ..data.structure import Structure


class TargetScale(torch.nn.Module):
    """The float64 scales ``[n_properties]`` of one target and whether they were
    fitted (a bool buffer, so that both travel in checkpoints)."""

    values: torch.Tensor
    fitted: torch.Tensor

    def __init__(self, n_properties: int) -> None:
        super().__init__()
        self.register_buffer("values", torch.ones(n_properties, dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(False))

    def _apply(
        self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True
    ) -> "TargetScale":
        # follow device moves but not dtype casts: the scales stay float64
        probe = fn(torch.zeros(0, dtype=torch.float64, device=self.values.device))
        self._buffers["values"] = self.values.to(device=probe.device)
        self._buffers["fitted"] = self.fitted.to(device=probe.device)
        return self

    def forward(self, values: torch.Tensor) -> torch.Tensor:
        return values * self.values.to(values.dtype)


class OutputScaler(torch.nn.Module):
    """Multiplies the network output of each of ``targets`` by its fitted scales.

    ``enabled`` (like a model's ``baseline_enabled``) switches the scaling off, for
    instance to look at the raw network output.
    """

    __jit_unused_properties__ = ["target_names"]

    def __init__(self, targets: Dict[str, TargetInfo]) -> None:
        super().__init__()
        self.enabled = True
        self.scales = torch.nn.ModuleDict(
            {name: TargetScale(info.num_subtargets) for name, info in targets.items()}
        )

    @property
    def target_names(self) -> List[str]:
        return list(self.scales.keys())

    def forward(self, target: str, values: torch.Tensor) -> torch.Tensor:
        """``values`` ``[n, ..., n_properties]`` of ``target`` times its scales; a
        target without scales is returned as it is."""
        result = values
        if self.enabled:
            for name, scale in self.scales.items():
                if name == target:
                    result = scale(values)
        return result

    @torch.jit.unused
    def scale(self, target: str) -> torch.Tensor:
        """The float64 scales ``[n_properties]`` of ``target``."""
        return self.scales[target].values  # type: ignore[return-value]

    @torch.jit.unused
    def is_fitted(self, target: str) -> bool:
        return bool(self.scales[target].fitted)

    @torch.jit.unused
    def add_target(self, name: str, info: TargetInfo) -> None:
        """Unfitted scales (1) for a new target, on this scaler's device."""
        device = next(iter(self.buffers())).device if len(self.scales) else None
        self.scales[name] = TargetScale(info.num_subtargets).to(device=device)

    @torch.jit.unused
    def fit(
        self,
        datasets: Sequence[Dataset],
        targets: Dict[str, TargetInfo],
        baseline: Optional[CompositionBaseline],
        length_unit: str = "angstrom",
    ) -> List[str]:
        """Fit the scales of the unfitted targets among ``targets`` on the labels of
        ``datasets`` minus the ``baseline`` (see the module docstring); returns the
        names of the targets fitted."""
        fitted = []
        for name, info in targets.items():
            if name not in self.scales or self.is_fitted(name):
                continue
            scales = fit_scales(datasets, name, info, baseline, length_unit)
            module = self.scales[name]
            module.values.copy_(scales)  # type: ignore[operator]
            module.fitted.fill_(True)  # type: ignore[operator]
            fitted.append(name)
        return fitted


def fit_scales(
    datasets: Sequence[Dataset],
    name: str,
    info: TargetInfo,
    baseline: Optional[CompositionBaseline],
    length_unit: str = "angstrom",
) -> torch.Tensor:
    """The float64 scales ``[n_properties]`` of target ``name`` (see the module
    docstring); 1 where there is no label or no spread. An energy without any
    force label is scaled by its values."""
    if info.is_energy and "positions" in info.gradients:
        rms, counts = _root_mean_square(datasets, name, info, baseline, True)
        if bool(torch.all(counts > 0)):
            return _usable(rms * unit_conversion_factor("angstrom", length_unit))
    rms, counts = _root_mean_square(datasets, name, info, baseline, False)
    return _usable(torch.where(counts > 0, rms, torch.zeros_like(rms)))


def _usable(rms: torch.Tensor) -> torch.Tensor:
    """``rms`` where it is positive and finite, 1 elsewhere."""
    usable = (rms > 0) & torch.isfinite(rms)
    return torch.where(usable, rms, torch.ones_like(rms))


def _root_mean_square(
    datasets: Sequence[Dataset],
    name: str,
    info: TargetInfo,
    baseline: Optional[CompositionBaseline],
    forces: bool,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Root mean square per property of the numbers that set the scale, and how
    many numbers (NaN labels skipped) there were."""
    sums = torch.zeros(info.num_subtargets, dtype=torch.float64)
    counts = torch.zeros(info.num_subtargets, dtype=torch.float64)
    for dataset in datasets:
        for structure in dataset:
            if name not in structure.targets:
                continue
            values = _scale_numbers(structure, name, info, baseline, forces)
            known = ~torch.isnan(values)
            sums += torch.where(known, values, 0.0).pow(2).sum(dim=0)
            counts += known.sum(dim=0)
    return torch.sqrt(sums / counts.clamp_min(1.0)), counts


def _scale_numbers(
    structure: Structure,
    name: str,
    info: TargetInfo,
    baseline: Optional[CompositionBaseline],
    forces: bool,
) -> torch.Tensor:
    """``[n, n_properties]``: the force components, or the residual labels (per
    structure: divided by the square root of the number of atoms)."""
    data = structure.targets[name]
    n_properties = info.num_subtargets
    if forces:
        gradient = data.gradients.get("positions")
        if gradient is None:
            return torch.zeros((0, n_properties), dtype=torch.float64)
        return gradient.to(torch.float64).reshape(-1, n_properties)
    blocks = [block.to(torch.float64) for block in data.blocks]
    if baseline is not None and name in baseline.supported_targets:
        blocks[0] = blocks[0] - baseline.contributions(structure.types, name)
    values = torch.cat([block.reshape(-1, n_properties) for block in blocks])
    if not info.per_atom:
        values = values / math.sqrt(max(len(structure), 1))
    return values
