"""The dummy model: a per-atom network on smooth radial neighbour features.

For atom ``i``, feature ``(t, k)`` is ``Σ_j exp(-((r_ij - μ_k) / w)²) f_c(r_ij)`` over
neighbours ``j`` of type ``t``, with ``f_c(r) = (1 + cos(π r / r_c)) / 2`` below the
cutoff ``r_c``. Features and a one-hot of the atom's type go through a two-layer
network with one linear head per target; per-structure targets sum the atomic values.
The composition baseline is added (the training engine switches it off while it
trains, see :mod:`atomtrain.training.baseline`); with ``zbl: true`` the
ZBL repulsion of :mod:`atomtrain.modules.zbl` is added to every energy target.

The last-layer features of target ``t`` (output ``mtt::aux::t_last_layer_features``)
are the second hidden layer of each atom with a constant 1 appended
``[n_atoms, hidden + 1]``, summed per structure for per-structure targets: each head
is exactly linear in them.
"""

import math
from typing import Any, Dict, List, Optional

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelMetadata,
    ModelOutput,
    NeighborListOptions,
    System,
)

from atomtrain.checkpoints import upgrade
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import UserError
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.modules.zbl import EnergyRepulsion
from atomtrain.utils.abc import (
    ModelCheckpointContext,
    ModelInterface,
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
)
from atomtrain.utils.model_io import build_from_checkpoint, checkpoint_of, export_model
from atomtrain.utils.outputs import last_layer_features_name

from .documentation import ModelHypers

ARCHITECTURE_NAME = "dummy"


class DummyModel(
    ModelInterface[ModelHypers],
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
):
    """Radial-feature network for invariant scalar targets."""

    __checkpoint_version__ = 2
    __supported_devices__ = ["cuda", "cpu"]
    __supported_dtypes__ = [torch.float64, torch.float32]
    __default_metadata__ = ModelMetadata(
        name="dummy",
        description="radial-feature network used to test the training engine",
        references={"implementation": [], "architecture": []},
    )
    __jit_ignored_attributes__ = ["hypers", "dataset_info"]

    type_index: torch.Tensor
    centers: torch.Tensor
    features_outputs: Dict[str, str]

    def __init__(
        self,
        hypers: ModelHypers,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        unsupported = [n for n, i in dataset_info.targets.items() if i.kind != "scalar"]
        if unsupported:
            raise UserError(
                f"the dummy architecture only models scalar targets, not {unsupported}"
            )
        super().__init__(hypers, dataset_info, metadata)
        types = list(dataset_info.atomic_types)
        self.cutoff = float(hypers["cutoff"])
        self.num_types = len(types)
        lookup = torch.full((max(types, default=0) + 1,), -1, dtype=torch.long)
        lookup[types] = torch.arange(len(types))
        self.register_buffer("type_index", lookup, persistent=False)
        centers = torch.linspace(0.0, self.cutoff, int(hypers["num_radial"]))
        self.register_buffer("centers", centers.to(torch.float64), persistent=False)
        self.width = self.cutoff / int(hypers["num_radial"])
        width = int(hypers["hidden"])
        size = self.num_types * int(hypers["num_radial"]) + self.num_types
        self.network = torch.nn.Sequential(
            torch.nn.Linear(size, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, width),
            torch.nn.SiLU(),
        )
        targets = dataset_info.targets
        self.heads = torch.nn.ModuleDict()
        self.per_atom: Dict[str, bool] = {}
        self.property_names: Dict[str, str] = {}
        self.features_outputs: Dict[str, str] = {}
        self.composition_baseline = CompositionBaseline(types, targets)
        self.neighbors = NeighborListOptions(self.cutoff, full_list=True, strict=False)
        self.zbl = EnergyRepulsion(bool(hypers["zbl"]), types, dataset_info.length_unit)
        for name, info in targets.items():
            self._add_head(name, info)

    def _add_head(self, name: str, info: TargetInfo) -> None:
        """A new linear head for target ``name``, and its bookkeeping."""
        width = int(self.hypers["hidden"])
        self.heads[name] = torch.nn.Linear(width, info.num_subtargets)
        self.per_atom[name] = info.per_atom
        self.property_names[name] = info.property_name(name)
        self.features_outputs[name] = last_layer_features_name(name)
        self.zbl.add_target(name, info.is_energy, info.unit)

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.neighbors, *self.zbl.neighbor_lists()]

    @torch.jit.unused
    def head_modules(self) -> Dict[str, torch.nn.Module]:
        """The head of each target (trained alone by ``finetune: heads``)."""
        return dict(self.heads.items())

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        features = self._features(systems)
        hidden = self.network(features)
        device = features.device
        counts = torch.tensor([len(s) for s in systems], device=device)
        system = torch.repeat_interleave(
            torch.arange(len(systems), device=device), counts
        )
        atom = torch.arange(len(system), device=device) - torch.repeat_interleave(
            torch.cumsum(counts, 0) - counts, counts
        )
        if selected_atoms is not None:
            stride = int(counts.max()) + 1
            wanted = selected_atoms.column("system") * stride + selected_atoms.column(
                "atom"
            )
            keep = torch.isin(system * stride + atom, wanted.to(device))
        else:
            keep = torch.ones_like(system, dtype=torch.bool)
        baseline = self.composition_baseline(systems, outputs, selected_atoms)
        repulsion = self.zbl(systems, outputs, torch.nonzero(keep)[:, 0])
        results: Dict[str, TensorMap] = {}
        # a ModuleDict is unrolled by TorchScript: no `continue` in this loop
        for name, head in self.heads.items():
            features_name = self.features_outputs[name]
            if features_name in outputs:
                ones = torch.ones_like(hidden[:, :1])
                features = torch.cat([hidden, ones], dim=1)[keep]
                per_atom = (
                    self.per_atom[name] or outputs[features_name].sample_kind == "atom"
                )
                results[features_name] = self._tensor(
                    features_name,
                    features,
                    system[keep],
                    atom[keep],
                    len(systems),
                    per_atom,
                    baseline,
                )
            if name in outputs:
                values = self.zbl.add(name, head(hidden)[keep], repulsion)
                per_atom = self.per_atom[name] or outputs[name].sample_kind == "atom"
                results[name] = self._tensor(
                    name,
                    values,
                    system[keep],
                    atom[keep],
                    len(systems),
                    per_atom,
                    baseline,
                )
        return results

    def _tensor(
        self,
        name: str,
        values: torch.Tensor,
        system: torch.Tensor,
        atom: torch.Tensor,
        n_systems: int,
        per_atom: bool,
        baseline: Dict[str, TensorMap],
    ) -> TensorMap:
        """Atomic ``values`` as the TensorMap of target ``name``, summed per
        structure unless ``per_atom``, with the baseline added when present."""
        device = values.device
        if per_atom:
            samples = Labels(
                ["system", "atom"], torch.stack([system, atom], dim=1).to(torch.int32)
            )
        else:
            summed = torch.zeros(
                (n_systems, values.shape[1]), dtype=values.dtype, device=device
            )
            values = summed.index_add(0, system, values)
            indices = torch.arange(n_systems, device=device, dtype=torch.int32)
            samples = Labels(["system"], indices.reshape(-1, 1))
        if name in baseline:
            values = values + baseline[name].block().values
        count = torch.arange(values.shape[1], device=device, dtype=torch.int32)
        property_name = "properties"
        if name in self.property_names:
            property_name = self.property_names[name]
        properties = Labels([property_name], count.reshape(-1, 1))
        block = TensorBlock(values, samples, [], properties)
        keys = Labels(["_"], torch.zeros((1, 1), dtype=torch.int32, device=device))
        return TensorMap(keys, [block])

    def _features(self, systems: List[System]) -> torch.Tensor:
        """Radial features ``[n_atoms, n_types * num_radial + n_types]``."""
        types = self.type_index[torch.cat([s.types for s in systems]).to(torch.long)]
        n_atoms = types.shape[0]
        dtype = systems[0].positions.dtype
        centers: List[torch.Tensor] = []
        neighbors: List[torch.Tensor] = []
        vectors: List[torch.Tensor] = []
        offset = 0
        for system in systems:
            pairs = system.get_neighbor_list(self.neighbors)
            centers.append(pairs.samples.column("first_atom").to(torch.long) + offset)
            neighbors.append(
                pairs.samples.column("second_atom").to(torch.long) + offset
            )
            vectors.append(pairs.values.reshape(-1, 3))
            offset += len(system)
        first = torch.cat(centers)
        second = torch.cat(neighbors)
        distances = torch.linalg.vector_norm(torch.cat(vectors), dim=1)
        smooth = 0.5 * (1.0 + torch.cos(math.pi * distances / self.cutoff))
        smooth = smooth * (distances < self.cutoff).to(dtype)
        gaussians = (
            torch.exp(
                -(((distances[:, None] - self.centers.to(dtype)) / self.width) ** 2)
            )
            * smooth[:, None]
        )
        n_radial = int(self.centers.shape[0])
        slots = first * self.num_types + types[second]
        radial = torch.zeros(
            (n_atoms * self.num_types, n_radial), dtype=dtype, device=distances.device
        ).index_add(0, slots, gaussians)
        one_hot = torch.nn.functional.one_hot(types, self.num_types).to(dtype)
        return torch.cat([radial.reshape(n_atoms, -1), one_hot], dim=1)

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        outputs = {n: i.model_output() for n, i in self.dataset_info.targets.items()}
        for name, info in self.dataset_info.targets.items():
            outputs[last_layer_features_name(name)] = ModelOutput(
                sample_kind=info.sample_kind,
                description=f"last-layer features of '{name}'",
            )
        return outputs

    def restart(self, dataset_info: DatasetInfo) -> "DummyModel":
        """Adds a head for each new target; new atomic types are refused (the
        network's input has one slot per type)."""
        new_types = self.dataset_info.new_atomic_types(dataset_info)
        if new_types:
            raise UserError(
                "the dummy architecture cannot add atomic types to a trained model: "
                f"the new data has elements {new_types} that the model was not "
                f"built for (it knows {self.dataset_info.atomic_types})"
            )
        new_targets = self.dataset_info.new_targets(dataset_info)
        if not new_targets:
            return self
        merged = DatasetInfo(
            self.dataset_info.length_unit,
            list(self.dataset_info.atomic_types),
            {**self.dataset_info.targets, **dataset_info.targets},
            {**self.dataset_info.extra_data, **dataset_info.extra_data},
        )
        reference = next(self.network.parameters())
        for name in new_targets:
            self._add_head(name, merged.targets[name])
            self.heads[name].to(device=reference.device, dtype=reference.dtype)
        self.composition_baseline = self.composition_baseline.extended(
            merged.atomic_types, merged.targets
        )
        self.dataset_info = merged
        return self

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> "DummyModel":
        return build_from_checkpoint(cls, checkpoint, context)

    def get_checkpoint(self) -> Dict[str, Any]:
        return checkpoint_of(self, ARCHITECTURE_NAME)

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(
            checkpoint, "model", cls.__checkpoint_version__, {1: _model_v1_to_v2}
        )

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        return export_model(self, self.cutoff, metadata)


def _model_v1_to_v2(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Version 2 added the ``zbl`` hyper (off in every older model)."""
    checkpoint["model"]["hypers"].setdefault("zbl", False)
    return checkpoint
