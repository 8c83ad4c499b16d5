"""The dummy model: a per-atom network on smooth radial neighbour features.

For atom ``i``, feature ``(t, k)`` is ``Σ_j exp(-((r_ij - μ_k) / w)²) f_c(r_ij)`` over
neighbours ``j`` of type ``t``, with ``f_c(r) = (1 + cos(π r / r_c)) / 2`` below the
cutoff ``r_c``. Features and a one-hot of the atom's type go through a two-layer
network with one linear head per target; per-structure targets sum the atomic values.
The composition baseline is added while ``baseline_enabled`` is true (the training
engine switches it off, see :mod:`atomtrain.training.baseline`).
"""

import math
from typing import Any, Dict, List, Optional

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    NeighborListOptions,
    System,
)

from atomtrain.checkpoints import new_checkpoint, upgrade
from atomtrain.composition.baseline import CompositionBaseline
from atomtrain.data.info import DatasetInfo
from atomtrain.errors import UserError
from atomtrain.training.state import model_weights
from atomtrain.utils.abc import ModelCheckpointContext, ModelInterface
from atomtrain.utils.dtype import dtype_to_str

from .documentation import ModelHypers

ARCHITECTURE_NAME = "dummy"


class DummyModel(ModelInterface[ModelHypers]):
    """Radial-feature network for invariant scalar targets."""

    __checkpoint_version__ = 1
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
        self.heads = torch.nn.ModuleDict(
            {n: torch.nn.Linear(width, i.num_subtargets) for n, i in targets.items()}
        )
        self.per_atom: Dict[str, bool] = {n: i.per_atom for n, i in targets.items()}
        self.property_names: Dict[str, str] = {
            n: i.property_name(n) for n, i in targets.items()
        }
        self.composition_baseline = CompositionBaseline(types, targets)
        self.baseline_enabled = True
        self.neighbors = NeighborListOptions(self.cutoff, full_list=True, strict=False)

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.neighbors]

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
        baseline: Dict[str, TensorMap] = {}
        if self.baseline_enabled:
            baseline = self.composition_baseline(systems, outputs, selected_atoms)
        results: Dict[str, TensorMap] = {}
        # a ModuleDict is unrolled by TorchScript: no `continue` in this loop
        for name, head in self.heads.items():
            if name in outputs:
                values = head(hidden)[keep]
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
        properties = Labels([self.property_names[name]], count.reshape(-1, 1))
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
        return {n: i.model_output() for n, i in self.dataset_info.targets.items()}

    def restart(self, dataset_info: DatasetInfo) -> "DummyModel":
        new_targets = self.dataset_info.new_targets(dataset_info)
        new_types = self.dataset_info.new_atomic_types(dataset_info)
        if new_targets or new_types:
            raise UserError(
                "the dummy architecture cannot add targets or atomic types to a "
                f"trained model (new targets {new_targets}, new types {new_types})"
            )
        return self

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> "DummyModel":
        section = checkpoint["model"]
        model = cls(
            dict(section["hypers"]),  # type: ignore[arg-type]
            DatasetInfo.from_dict(section["dataset_info"]),
        )
        model.load_state_dict(model_weights(checkpoint, context))
        return model

    def get_checkpoint(self) -> Dict[str, Any]:
        checkpoint = new_checkpoint(ARCHITECTURE_NAME, self.__checkpoint_version__)
        checkpoint["model"] = {
            "hypers": dict(self.hypers),
            "dataset_info": self.dataset_info.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }
        return checkpoint

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "model", cls.__checkpoint_version__, {})

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        capabilities = ModelCapabilities(
            outputs=self.supported_outputs(),
            atomic_types=list(self.dataset_info.atomic_types),
            interaction_range=self.cutoff,
            length_unit=self.dataset_info.length_unit,
            supported_devices=list(self.__supported_devices__),
            dtype=dtype_to_str(next(self.network.parameters()).dtype),
        )
        self.baseline_enabled = True
        return AtomisticModel(
            self.eval(),
            metadata if metadata is not None else self.metadata,
            capabilities,
        )
