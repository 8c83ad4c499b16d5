"""Output scaling: one fitted factor per target and property, multiplying what a
network predicts before the composition baseline is added.

A freshly initialised network predicts per-atom values of order one, in whatever unit
the labels use. The :class:`OutputScaler` a model holds multiplies each target's
network output by factors fitted once, before training, on the residual labels
(labels minus the composition baseline), so that the network learns numbers of order
one:

- per-structure targets (energies): the root mean square over structures of the
  residual per atom, ``(y - baseline) / n_atoms`` — for energies, the spread of the
  per-atom energy;
- per-atom targets: the root mean square of the residual labels.

For energies, this per-atom energy scale was chosen over one set by the forces (their
root mean square times 1 Å, which matches an untrained PET's force magnitude better)
by measurement: PET (d_pet 64, two GNN layers), trained with the engine at learning
rate 1e-3, reached validation force MAEs of 9.1 (per-atom energy scale, 0.4 kcal/mol)
against 11.9 (force scale, 28 kcal/mol) and 8.7 (no scale) kcal/mol/Å on 80 DFT
ethanol frames after 75 steps; 0.43 against 0.51 and 0.51 eV/Å on 80 carbon frames
(where only this scale learned at all in 75 steps); and 0.77 against 0.85 and 0.84
eV/Å on 160 GFN2 ethanol frames after 40 steps. A small output scale keeps the
untrained network's random forces small, and Adam's steps then move the output by
amounts comparable to the labels' structure-to-structure spread.

An architecture may scale its energies by their forces instead
(``OutputScaler(targets, energy_scale="forces")``): an energy whose training labels
have forces gets the root mean square of the force components (times 1 in the length
unit), as MACE does (``mace_run_train``'s default ``rms_forces_scaling``); energies
without forces keep the per-atom energy scale.

Scales are per property (one per subtarget), float64 whatever the model's dtype, and
a target without labels or without spread keeps the scale 1. A spherical target of
several irreps has scales per irrep and property (the root mean square of each
block's residual labels, :meth:`OutputScaler.block`): the anisotropic λ = 2 part of
a polarizability and what the baseline leaves of its trace differ in size. Each
target's scale remembers whether it was fitted: restarts and fine-tuning keep fitted
scales (the trained weights depend on them), and only targets added since (new
heads) are fitted. The module is TorchScript-compatible.
"""

from typing import Callable, Dict, List, Optional, Sequence

import torch

from ..data.dataset import Dataset
from ..data.info import TargetInfo
from ..data.structure import Structure
from .composition import CompositionBaseline

#: How energies are scaled: by the spread of per-atom energies, or by the forces.
ENERGY_SCALES = ("per_atom_energy", "forces")


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

    def forward(self, values: torch.Tensor, block: int = -1) -> torch.Tensor:
        """``values [n, ..., n_properties]`` times the scales, those of ``block``
        when the scales are per block."""
        if block < 0:
            return values * self.values.to(values.dtype)
        scales = self.values.reshape(-1, values.shape[-1])[block]
        return values * scales.to(values.dtype)


class OutputScaler(torch.nn.Module):
    """Multiplies the network output of each of ``targets`` by its fitted scales."""

    __jit_unused_properties__ = ["target_names"]

    def __init__(
        self, targets: Dict[str, TargetInfo], energy_scale: str = "per_atom_energy"
    ) -> None:
        super().__init__()
        if energy_scale not in ENERGY_SCALES:
            raise ValueError(f"energy_scale must be one of {ENERGY_SCALES}")
        self.energy_scale = energy_scale
        self.scales = torch.nn.ModuleDict(
            {name: TargetScale(scale_count(info)) for name, info in targets.items()}
        )

    @property
    def target_names(self) -> List[str]:
        return list(self.scales.keys())

    def forward(self, target: str, values: torch.Tensor) -> torch.Tensor:
        """``values`` ``[n, ..., n_properties]`` of ``target`` times its scales; a
        target without scales is returned as it is."""
        result = values
        for name, scale in self.scales.items():
            if name == target:
                result = scale(values)
        return result

    def block(self, target: str, index: int, values: torch.Tensor) -> torch.Tensor:
        """``values`` ``[n, ..., n_properties]`` of block ``index`` of ``target``
        times the scales of that block (see :func:`scale_count`)."""
        result = values
        for name, scale in self.scales.items():
            if name == target:
                result = scale(values, index)
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
        self.scales[name] = TargetScale(scale_count(info)).to(device=device)

    @torch.jit.unused
    def fit(
        self,
        datasets: Sequence[Dataset],
        targets: Dict[str, TargetInfo],
        baseline: Optional[CompositionBaseline],
    ) -> List[str]:
        """Fit the scales of the unfitted targets among ``targets`` on the labels of
        ``datasets`` minus the ``baseline`` (see the module docstring); returns the
        names of the targets fitted."""
        fitted = []
        for name, info in targets.items():
            if name not in self.scales or self.is_fitted(name):
                continue
            scales = None
            if self.energy_scale == "forces" and info.is_energy:
                scales = force_scales(datasets, name, info)
            if scales is None:
                scales = fit_scales(datasets, name, info, baseline)
            self.set_scales(name, scales)
            fitted.append(name)
        return fitted

    @torch.jit.unused
    def set_scales(self, target: str, scales: torch.Tensor) -> None:
        """Set the scales ``[n_properties]`` of ``target`` and mark them fitted (as
        read from another code's model file, say)."""
        module = self.scales[target]
        module.values.copy_(scales)  # type: ignore[operator]
        module.fitted.fill_(True)  # type: ignore[operator]


def scale_count(info: TargetInfo) -> int:
    """The number of scales of a target: one per property, and per irrep for a
    spherical target of several irreps."""
    blocks = len(info.irreps) if info.kind == "spherical" else 1
    return blocks * info.num_subtargets


def fit_scales(
    datasets: Sequence[Dataset],
    name: str,
    info: TargetInfo,
    baseline: Optional[CompositionBaseline],
) -> torch.Tensor:
    """The float64 scales ``[scale_count(info)]`` of target ``name`` (see the module
    docstring); 1 where there is no label or no spread."""
    sums = torch.zeros(scale_count(info), dtype=torch.float64)
    counts = torch.zeros(scale_count(info), dtype=torch.float64)
    for dataset in datasets:
        for structure in dataset:
            if name not in structure.targets:
                continue
            values = _per_atom_residuals(structure, name, info, baseline)
            known = ~torch.isnan(values)
            sums += torch.where(known, values, 0.0).pow(2).sum(dim=0)
            counts += known.sum(dim=0)
    rms = torch.sqrt(sums / counts.clamp_min(1.0))
    usable = (counts > 0) & (rms > 0) & torch.isfinite(rms)
    return torch.where(usable, rms, torch.ones_like(rms))


def force_scales(
    datasets: Sequence[Dataset], name: str, info: TargetInfo
) -> Optional[torch.Tensor]:
    """The root mean square of the force components of energy ``name`` over
    ``datasets``, as scales ``[n_properties]`` (NaN labels skipped); None when no
    structure has forces or they are all zero."""
    total, count = 0.0, 0
    for dataset in datasets:
        for structure in dataset:
            data = structure.targets.get(name)
            if data is None or "positions" not in data.gradients:
                continue
            values = data.gradients["positions"].to(torch.float64)
            known = values[~torch.isnan(values)]
            total += float(known.pow(2).sum())
            count += int(known.numel())
    if count == 0 or total == 0.0:
        return None
    rms = (total / count) ** 0.5
    return torch.full((info.num_subtargets,), rms, dtype=torch.float64)


def _per_atom_residuals(
    structure: Structure,
    name: str,
    info: TargetInfo,
    baseline: Optional[CompositionBaseline],
) -> torch.Tensor:
    """``[n, scale_count(info)]``: the labels of one structure minus the baseline,
    per atom (per-structure ones divided by the number of atoms); ``n`` counts the
    samples and components, and the blocks of a spherical target side by side."""
    n_properties = info.num_subtargets
    blocks = [block.to(torch.float64) for block in structure.targets[name].blocks]
    if baseline is not None and name in baseline.supported_targets:
        index = baseline.label_block(name)
        blocks[index] = blocks[index] - baseline.contributions(structure.types, name)
    if scale_count(info) > n_properties:
        # each block's values in its own columns, NaN where another block's are
        rows = [block.reshape(-1, n_properties) for block in blocks]
        values = torch.full(
            (sum(len(r) for r in rows), scale_count(info)),
            float("nan"),
            dtype=torch.float64,
        )
        start = 0
        for i, row in enumerate(rows):
            columns = slice(i * n_properties, (i + 1) * n_properties)
            values[start : start + len(row), columns] = row
            start += len(row)
    else:
        values = torch.cat([block.reshape(-1, n_properties) for block in blocks])
    if not info.per_atom:
        values = values / max(len(structure), 1)
    return values
