"""The composition baseline: one fitted value per atomic type and target.

For a per-structure target ``y_A`` (an energy) the prediction is the sum over the atoms
of the structure, ``y_A = Σ_t n_t(A) w_t`` with ``n_t(A)`` the number of atoms of type
``t``; for a per-atom target it is ``y_i = w_{t_i}``. Every architecture adds this
baseline to its predictions, and the training engine removes it from the labels once
before training, so that networks learn the small remainder.

Tensor targets get a baseline of their invariant part only (the isotropic
polarizability of λ0 ⊕ λ2, say): see :mod:`atomtrain.modules.invariant_parts`.

The weights are float64 buffers ``[n_types, n_properties]`` and stay float64 whatever
dtype the surrounding model is moved to; predictions are cast to the systems' dtype.
"""

from typing import Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import ModelOutput, System

from ..data.dataset import Dataset
from ..data.info import TargetInfo
from ..errors import DataError, OptionsError, Problem
from .composition_solve import fit_per_atom, fit_per_structure, gather_labels
from .invariant_parts import invariant_block, invariant_shape, invariant_values

#: Where users set fixed per-type values, for error messages.
FIXED_OPTION = "architecture.training.atomic_baseline"


def is_supported(info: TargetInfo) -> bool:
    """Whether the baseline models this whole target: invariant scalars only."""
    return info.kind == "scalar" and info.sample_kind in ("system", "atom")


class _TargetWeights(torch.nn.Module):
    """The weights ``[n_types, n_properties]`` of one target, kept in float64."""

    weights: torch.Tensor

    def __init__(self, n_types: int, n_properties: int, per_atom: bool, name: str):
        super().__init__()
        self.per_atom = per_atom
        self.property_name = name
        self.register_buffer(
            "weights", torch.zeros((n_types, n_properties), dtype=torch.float64)
        )

    def _apply(
        self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True
    ) -> "_TargetWeights":
        # follow device moves but not dtype casts: a float32 model keeps an exact
        # float64 baseline, and its checkpoint stays exact
        probe = fn(torch.zeros(0, dtype=torch.float64, device=self.weights.device))
        self._buffers["weights"] = self.weights.to(device=probe.device)
        return self


class CompositionBaseline(torch.nn.Module):
    """Per-type linear model of the invariant scalar targets among ``targets``, and of
    the invariant parts of tensor targets (see the module docstring).

    Other targets (vectors, spherical targets without a ``(0, 1)`` block) get no
    baseline and are left to the architecture; :attr:`supported_targets` lists those
    that have one, scalars first (their order in checkpoints). The module is
    TorchScript-compatible.
    """

    __jit_ignored_attributes__ = ["target_infos", "_lookup"]
    __jit_unused_properties__ = ["supported_targets"]

    type_to_index: torch.Tensor

    def __init__(self, atomic_types: Sequence[int], targets: Dict[str, TargetInfo]):
        super().__init__()
        self.atomic_types: List[int] = sorted({int(t) for t in atomic_types})
        # scalars first: the heads of a model's scalar targets keep their places
        # whatever tensor targets it has
        self.target_infos: Dict[str, TargetInfo] = {
            name: info for name, info in targets.items() if is_supported(info)
        }
        self.target_infos.update(
            {
                name: info
                for name, info in targets.items()
                if not is_supported(info) and invariant_block(info) >= 0
            }
        )
        self.target_names: List[str] = list(self.target_infos)
        #: whether :meth:`forward` predicts; switched off only by the engine, through
        #: :func:`atomtrain.training.baseline.without_baseline`
        self.active = True
        lookup = torch.full((max(self.atomic_types, default=-1) + 1,), -1)
        lookup[self.atomic_types] = torch.arange(len(self.atomic_types))
        # derived from atomic_types: not stored in checkpoints
        self.register_buffer("type_to_index", lookup, persistent=False)
        self._lookup = lookup.numpy()
        self.heads = torch.nn.ModuleList(
            _TargetWeights(
                len(self.atomic_types),
                info.num_subtargets,
                info.per_atom,
                info.property_name(name),
            )
            for name, info in self.target_infos.items()
        )

    @property
    def supported_targets(self) -> List[str]:
        """Names of the targets this baseline models."""
        return list(self.target_names)

    def target_weights(self, target: str) -> torch.Tensor:
        """The float64 weights ``[n_types, n_properties]`` of ``target``, rows in the
        order of :attr:`atomic_types`."""
        return self._head(target).weights

    @torch.jit.unused
    def extended(
        self, atomic_types: Sequence[int], targets: Dict[str, TargetInfo]
    ) -> "CompositionBaseline":
        """A baseline for more types and targets that keeps the weights of this one
        (new types and targets start at 0, to be fitted)."""
        new = CompositionBaseline(atomic_types, targets).to(self.type_to_index.device)
        kept = [t for t in self.atomic_types if t in new.atomic_types]
        old_rows = [self.atomic_types.index(t) for t in kept]
        new_rows = [new.atomic_types.index(t) for t in kept]
        for name in self.target_names:
            if name in new.target_names:
                new.target_weights(name)[new_rows] = self.target_weights(name)[old_rows]
        return new

    def _head(self, target: str) -> "_TargetWeights":
        if target not in self.target_names:
            raise KeyError(
                f"the composition baseline has no target '{target}'; it models "
                f"{self.target_names}"
            )
        head = self.heads[self.target_names.index(target)]
        assert isinstance(head, _TargetWeights)
        return head

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        """Baseline predictions for the requested targets, in the systems' dtype.

        Per-structure targets are summed over the (selected) atoms of each structure,
        unless ``outputs[name].sample_kind`` is ``"atom"``; per-atom targets have
        samples ``system, atom``. Nothing while :attr:`active` is false (the engine
        trains models on labels less the baseline).
        """
        results: Dict[str, TensorMap] = {}
        if len(systems) == 0 or not self.active:
            return results
        device = systems[0].positions.device
        dtype = systems[0].positions.dtype
        types = torch.cat([system.types for system in systems])
        type_index = self._type_index(types)
        counts = torch.tensor([len(system) for system in systems], device=device)
        system_index = torch.repeat_interleave(
            torch.arange(len(systems), device=device), counts
        )
        atom_index = torch.cat(
            [torch.arange(len(system), device=device) for system in systems]
        )
        anchor = _autograd_anchor(systems)
        if selected_atoms is not None:
            mask = _selected(selected_atoms, system_index, atom_index, counts)
            type_index = type_index[mask]
            system_index = system_index[mask]
            atom_index = atom_index[mask]
            if anchor is not None:
                anchor = anchor[mask]

        keys = Labels(["_"], torch.zeros((1, 1), dtype=torch.int32, device=device))
        # a ModuleList is unrolled by TorchScript: no `continue` in this loop; mypy
        # sees its items as plain Modules, hence the ignores on their attributes
        for i, head in enumerate(self.heads):
            name = self.target_names[i]
            if name in outputs:
                weights = head.weights.index_select(0, type_index)  # type: ignore[operator]
                values = weights.to(dtype)
                if anchor is not None:
                    values = values + anchor
                per_atom = bool(head.per_atom) or outputs[name].sample_kind == "atom"
                block = _block(
                    values,
                    system_index,
                    atom_index,
                    len(systems),
                    per_atom,
                    head.property_name,  # type: ignore[arg-type]
                )
                results[name] = TensorMap(keys, [block])
        return results

    def _type_index(self, types: torch.Tensor) -> torch.Tensor:
        """Row of each atom's type in the weight tables; raises for unknown types."""
        size = self.type_to_index.shape[0]
        known = (types >= 0) & (types < size)
        index = self.type_to_index[torch.where(known, types, 0).to(torch.long)]
        index = torch.where(known, index, -1)
        if bool((index < 0).any()):
            unknown = types[index < 0][0]
            raise ValueError(
                "atomic type "
                + str(int(unknown))
                + " is not among the atomic types of this model "
                + str(self.atomic_types)
            )
        return index

    @torch.jit.unused
    def contributions(self, types: torch.Tensor, target: str) -> torch.Tensor:
        """The float64 baseline of ``target`` for one structure with atomic ``types``:
        ``[1, n_properties]`` for a per-structure target (summed), ``[n_atoms,
        n_properties]`` for a per-atom one — the shape of its label block (of the
        block of its invariant part, :meth:`label_block`, for a tensor target)."""
        head = self._head(target)
        index = self._eager_type_index(types).to(head.weights.device)
        values = head.weights[index]
        values = values if head.per_atom else values.sum(dim=0, keepdim=True)
        return invariant_shape(self.target_infos[target], values)

    @torch.jit.unused
    def label_block(self, target: str) -> int:
        """The index of the label block of ``target`` that :meth:`contributions`
        matches (its invariant part)."""
        return invariant_block(self.target_infos[target])

    @torch.jit.unused
    def _eager_type_index(self, types: torch.Tensor) -> torch.Tensor:
        """:meth:`_type_index` with numpy, for the engine's passes over the data
        (several times faster on the few atoms of one structure)."""
        lookup = self._lookup
        values = types.cpu().numpy()
        known = (values >= 0) & (values < len(lookup))
        index = np.where(known, lookup[np.where(known, values, 0)], -1)
        if (index < 0).any():
            return self._type_index(types)  # raises, naming the type
        return torch.from_numpy(index)

    @torch.jit.unused
    def fit(
        self,
        datasets: Sequence[Dataset],
        fixed: Optional[Mapping[str, Mapping[int, float]]] = None,
    ) -> None:
        """Fit every target's weights on ``datasets`` (float64, on the CPU).

        Per-structure targets are fitted by least squares on the matrix of atom counts
        per type; per-atom targets by the mean over the atoms of each type. ``fixed``
        gives per-type values (``{target: {type: value}}``) that are kept as given, and
        whose contribution is removed before fitting the other types. Structures
        without the target, and NaN labels, are skipped; a type absent from the data
        gets the weight 0; a target with no label and no fixed value keeps its weights.
        When compositions are collinear (e.g. one molecule), the
        minimum-norm solution is taken: predictions on such data are exact, the split
        between types is arbitrary.
        """
        fixed = dict(fixed or {})
        self._check_fixed(fixed)
        collected = gather_labels(
            datasets,
            self.target_infos,
            len(self.atomic_types),
            self.structure_type_index,
            {name: invariant_block(info) for name, info in self.target_infos.items()},
            invariant_values,
        )
        for name in self.target_names:
            head = self._head(name)
            data = collected[name]
            values = fixed.get(name, {})
            if not data.labelled and not values:
                # a target without labels here (a kept target when fine-tuning on
                # other targets) keeps the weights it has
                continue
            fixed_mask = torch.zeros(len(self.atomic_types), dtype=torch.bool)
            fixed_weights = torch.zeros(len(self.atomic_types), dtype=torch.float64)
            for atomic_type, value in values.items():
                fixed_mask[self.atomic_types.index(int(atomic_type))] = True
                fixed_weights[self.atomic_types.index(int(atomic_type))] = float(value)
            first, second = data.arrays()
            fit = fit_per_atom if head.per_atom else fit_per_structure
            weights = fit(first, second, fixed_mask, fixed_weights)
            head.weights.copy_(weights.to(head.weights.device))

    def _check_fixed(self, fixed: Mapping[str, Mapping[int, float]]) -> None:
        problems = self.fixed_problems(fixed)
        if problems:
            raise OptionsError(problems)

    @torch.jit.unused
    def fixed_problems(self, fixed: Mapping[str, Mapping[int, float]]) -> List[Problem]:
        """The problems of the fixed values ``fixed`` (``atomic_baseline``): a
        target without a baseline, an atomic type the model does not have."""
        problems = []
        for name, values in fixed.items():
            if name not in self.target_names:
                problems.append(
                    Problem(
                        f"{FIXED_OPTION}.{name}",
                        "no composition baseline for this target; baselines exist "
                        f"for {self.target_names}",
                    )
                )
                continue
            for atomic_type in values:
                if int(atomic_type) not in self.atomic_types:
                    problems.append(
                        Problem(
                            f"{FIXED_OPTION}.{name}.{atomic_type}",
                            f"atomic type not among {self.atomic_types}",
                        )
                    )
        return problems

    @torch.jit.unused
    def structure_type_index(
        self, types: torch.Tensor, dataset: Dataset, index: int
    ) -> torch.Tensor:
        """Like the type lookup of ``forward``, with an error naming the structure."""
        try:
            return self._eager_type_index(types)
        except ValueError as error:
            raise unknown_type_error(error, dataset, index) from None


def unknown_type_error(error: ValueError, dataset: Dataset, index: int) -> DataError:
    """The error of an unknown atomic type, located at structure ``index`` of
    ``dataset``."""
    file, position = dataset.origin(index)
    return DataError(
        f"{error}; add it to architecture.atomic_types or remove the structure",
        file=file,
        structure=position,
    )


def _block(
    values: torch.Tensor,
    system_index: torch.Tensor,
    atom_index: torch.Tensor,
    n_systems: int,
    per_atom: bool,
    property_name: str,
) -> TensorBlock:
    """A block of per-atom ``values`` ``[n_atoms, n_properties]``, summed per system
    unless ``per_atom``."""
    device = values.device
    if per_atom:
        sample_names = ["system", "atom"]
        sample_values = torch.stack([system_index, atom_index], dim=1)
    else:
        summed = torch.zeros(
            (n_systems, values.shape[1]), dtype=values.dtype, device=device
        )
        values = summed.index_add(0, system_index, values)
        sample_names = ["system"]
        sample_values = torch.arange(n_systems, device=device).reshape(-1, 1)
    properties = torch.arange(values.shape[1], dtype=torch.int32, device=device)
    return TensorBlock(
        values=values,
        samples=Labels(sample_names, sample_values.to(torch.int32)),
        components=[],
        properties=Labels([property_name], properties.reshape(-1, 1)),
    )


def _selected(
    selected_atoms: Labels,
    system_index: torch.Tensor,
    atom_index: torch.Tensor,
    counts: torch.Tensor,
) -> torch.Tensor:
    """Which atoms (``system_index``, ``atom_index``) ``selected_atoms`` holds."""
    device = system_index.device
    stride = int(counts.max()) + 1
    selected = selected_atoms.column("system").to(device) * stride
    selected = selected + selected_atoms.column("atom").to(device)
    return torch.isin(system_index * stride + atom_index, selected)


def _autograd_anchor(systems: List[System]) -> Optional[torch.Tensor]:
    """Zeros ``[n_atoms, 1]`` that depend on the positions when these require
    gradients: the baseline does not depend on positions, but engines that
    differentiate the energy must get zero forces and stress, not an error."""
    positions = torch.cat([system.positions for system in systems])
    if not positions.requires_grad:
        return None
    return (positions * 0.0).sum(dim=1, keepdim=True)
