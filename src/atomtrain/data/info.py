"""What a model needs to know about the data to build its heads.

:class:`TargetInfo` describes one target (layout, quantity, unit, gradients);
:class:`DatasetInfo` gathers the targets, the atomic types and the length unit of the
training data. Both serialise to plain dictionaries for checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Literal, Tuple

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import ModelOutput

SampleKind = Literal["system", "atom"]
TargetKind = Literal["scalar", "cartesian", "spherical"]

#: Names of gradients a target can carry: ``positions`` (dE/dr = -forces) and
#: ``strain`` (dE/dε = -virial = V · stress).
GRADIENT_NAMES = ("positions", "strain")


class IncompatibleInfoError(ValueError):
    """Two descriptions of the same data cannot be merged."""


@dataclass(frozen=True)
class TargetInfo:
    """The layout and physical meaning of one target.

    ``kind`` is ``scalar``, ``cartesian`` (of ``rank`` ≥ 1, components ``xyz`` or
    ``xyz_1``, ``xyz_2``, ...) or ``spherical`` (``irreps``: a tuple of
    ``(o3_lambda, o3_sigma)`` pairs, one block each). ``num_subtargets`` is the number
    of properties of each block. ``gradients`` lists the gradients stored with the
    target (only for single-block scalar targets).
    """

    quantity: str = ""
    unit: str = ""
    sample_kind: SampleKind = "system"
    kind: TargetKind = "scalar"
    num_subtargets: int = 1
    rank: int = 0
    irreps: Tuple[Tuple[int, int], ...] = ()
    gradients: Tuple[str, ...] = ()
    description: str = ""

    @property
    def per_atom(self) -> bool:
        return self.sample_kind == "atom"

    @property
    def is_energy(self) -> bool:
        """An energy-like target: a per-structure scalar of quantity ``energy``."""
        return (
            self.quantity == "energy"
            and self.kind == "scalar"
            and self.sample_kind == "system"
        )

    @property
    def sample_names(self) -> List[str]:
        return ["system", "atom"] if self.per_atom else ["system"]

    def property_name(self, target_name: str) -> str:
        """Name of the property dimension: the target's base name for energies."""
        if self.is_energy and self.num_subtargets == 1:
            return target_name.split("/")[0].removeprefix("mtt::")
        return "properties"

    def keys(self) -> Labels:
        if self.kind == "spherical":
            return Labels(
                ["o3_lambda", "o3_sigma"],
                torch.tensor([list(ir) for ir in self.irreps], dtype=torch.int32),
            )
        return Labels.single()

    def block_components(self) -> List[List[Labels]]:
        """The component labels of each block, in key order."""
        if self.kind == "scalar":
            return [[]]
        if self.kind == "cartesian":
            names = (
                ["xyz"]
                if self.rank == 1
                else [f"xyz_{i + 1}" for i in range(self.rank)]
            )
            return [[Labels.range(name, 3) for name in names]]
        return [
            [
                Labels(
                    "o3_mu",
                    torch.arange(-lam, lam + 1, dtype=torch.int32).reshape(-1, 1),
                )
            ]
            for lam, _ in self.irreps
        ]

    def layout(self, target_name: str) -> TensorMap:
        """An empty TensorMap (no samples) with this target's keys, components and
        properties, and empty gradient blocks for each gradient."""
        properties = Labels.range(self.property_name(target_name), self.num_subtargets)
        blocks = []
        for components in self.block_components():
            shape = [0] + [len(c) for c in components] + [self.num_subtargets]
            block = TensorBlock(
                values=torch.zeros(shape, dtype=torch.float64),
                samples=Labels(
                    self.sample_names,
                    torch.zeros((0, len(self.sample_names)), dtype=torch.int32),
                ),
                components=components,
                properties=properties,
            )
            for gradient in self.gradients:
                block.add_gradient(gradient, _empty_gradient(gradient, properties))
            blocks.append(block)
        return TensorMap(self.keys(), blocks)

    def model_output(self) -> ModelOutput:
        """The metatomic description of this output. metatomic derives dimensions from
        the unit itself (its ``quantity`` field is deprecated), so it is left empty."""
        return ModelOutput(
            unit=self.unit,
            sample_kind=self.sample_kind,
            description=self.description,
        )

    def is_compatible_with(self, other: TargetInfo) -> bool:
        """Same layout and meaning (gradients may differ)."""
        return replace(self, gradients=(), description="") == replace(
            other, gradients=(), description=""
        )

    def to_dict(self) -> Dict[str, Any]:
        return {
            "quantity": self.quantity,
            "unit": self.unit,
            "sample_kind": self.sample_kind,
            "kind": self.kind,
            "num_subtargets": self.num_subtargets,
            "rank": self.rank,
            "irreps": [list(ir) for ir in self.irreps],
            "gradients": list(self.gradients),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> TargetInfo:
        data = dict(data)
        # stored lists come back as tuples; TargetInfo's own defaults (none) apply
        # to the keys that checkpoints of earlier versions lack
        data["irreps"] = tuple(tuple(ir) for ir in data.get("irreps", ()))
        data["gradients"] = tuple(data.get("gradients", ()))
        return cls(**data)


def _empty_gradient(gradient: str, properties: Labels) -> TensorBlock:
    if gradient == "positions":
        samples = ["sample", "system", "atom"]
        components = [Labels.range("xyz", 3)]
    elif gradient == "strain":
        samples = ["sample"]
        components = [Labels.range("xyz_1", 3), Labels.range("xyz_2", 3)]
    else:
        raise ValueError(
            f"unknown gradient '{gradient}', expected one of {GRADIENT_NAMES}"
        )
    shape = [0] + [3] * len(components) + [len(properties)]
    return TensorBlock(
        values=torch.zeros(shape, dtype=torch.float64),
        samples=Labels(samples, torch.zeros((0, len(samples)), dtype=torch.int32)),
        components=components,
        properties=properties,
    )


@dataclass
class DatasetInfo:
    """What a model needs to build itself: length unit, atomic types and targets."""

    length_unit: str = "angstrom"
    atomic_types: List[int] = field(default_factory=list)
    targets: Dict[str, TargetInfo] = field(default_factory=dict)
    extra_data: Dict[str, TargetInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.atomic_types = sorted({int(t) for t in self.atomic_types})

    def union(self, other: DatasetInfo) -> DatasetInfo:
        """Everything in either; raises :class:`IncompatibleInfoError` on a conflict
        (different length units, a target with the same name but another layout)."""
        if self.length_unit != other.length_unit:
            raise IncompatibleInfoError(
                f"length units differ: '{self.length_unit}' and '{other.length_unit}'"
            )
        return DatasetInfo(
            length_unit=self.length_unit,
            atomic_types=self.atomic_types + other.atomic_types,
            targets=_merge_targets(self.targets, other.targets),
            extra_data=_merge_targets(self.extra_data, other.extra_data),
        )

    def new_atomic_types(self, other: DatasetInfo) -> List[int]:
        """Atomic types of ``other`` that this one lacks."""
        return sorted(set(other.atomic_types) - set(self.atomic_types))

    def new_targets(self, other: DatasetInfo) -> List[str]:
        """Names of targets of ``other`` that this one lacks."""
        return [name for name in other.targets if name not in self.targets]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "length_unit": self.length_unit,
            "atomic_types": list(self.atomic_types),
            "targets": {k: v.to_dict() for k, v in self.targets.items()},
            "extra_data": {k: v.to_dict() for k, v in self.extra_data.items()},
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> DatasetInfo:
        return cls(
            length_unit=data["length_unit"],
            atomic_types=list(data["atomic_types"]),
            targets={k: TargetInfo.from_dict(v) for k, v in data["targets"].items()},
            extra_data={
                k: TargetInfo.from_dict(v)
                # checkpoints of earlier versions have no extra data
                for k, v in data.get("extra_data", {}).items()
            },
        )


def _merge_targets(
    first: Dict[str, TargetInfo], second: Dict[str, TargetInfo]
) -> Dict[str, TargetInfo]:
    merged = dict(first)
    for name, info in second.items():
        if name not in merged:
            merged[name] = info
            continue
        if not merged[name].is_compatible_with(info):
            raise IncompatibleInfoError(
                f"target '{name}' is described differently in two datasets: "
                f"{merged[name].to_dict()} and {info.to_dict()}"
            )
        gradients = tuple(sorted(set(merged[name].gradients) | set(info.gradients)))
        merged[name] = replace(merged[name], gradients=gradients)
    return merged
