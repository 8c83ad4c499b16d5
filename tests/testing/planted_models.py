"""A correct tiny architecture, and copies of it with one bug planted each.

The architecture is a smooth pair potential: ``E = Σ_pairs w(t_i, t_j) exp(-r) f_c(r)``
with a cosine cutoff, per structure, plus the composition baseline. Each step of
``forward`` is a method, and each bug is a subclass overriding one of them (no
postponed annotations in this module: metatomic reads the signature of ``forward``, and
TorchScript compiles the subclasses' methods).
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
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.testing.base import ENERGY
from atomtrain.training.engine import EngineTrainer
from atomtrain.utils.abc import (
    ModelInterface,
    RequestsNeighborLists,
    WithCompositionBaseline,
)

TYPES = [1, 6, 8]


class PairModel(
    ModelInterface[Dict[str, Any]], RequestsNeighborLists, WithCompositionBaseline
):
    """A correct, scriptable pair potential of the energy."""

    __checkpoint_version__ = 1
    __supported_devices__ = ["cpu"]
    __supported_dtypes__ = [torch.float64]
    __default_metadata__ = ModelMetadata(
        references={"implementation": [], "architecture": []}
    )
    __jit_ignored_attributes__ = ["hypers", "dataset_info"]

    def __init__(
        self,
        hypers: Dict[str, Any],
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        super().__init__(hypers, dataset_info, metadata)
        self.cutoff = 3.0
        self.options = NeighborListOptions(self.cutoff, full_list=False, strict=True)
        count = max(TYPES) + 1
        self.num_slots = count
        weights = torch.rand(count, count) + 0.5
        self.weights = torch.nn.Parameter(weights + weights.T)
        self.composition_baseline = CompositionBaseline(TYPES, dataset_info.targets)

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.options]

    # ---- the steps the bugs override -------------------------------------------

    def pair_vectors(
        self,
        system: System,
        pairs: TensorBlock,
        first: torch.Tensor,
        second: torch.Tensor,
    ) -> torch.Tensor:
        return pairs.values.reshape(-1, 3)

    def pair_distances(self, vectors: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(vectors, dim=1)

    def cutoff_function(self, distances: torch.Tensor) -> torch.Tensor:
        return 0.5 * (1.0 + torch.cos(math.pi * distances / self.cutoff))

    def batch_scale(self, distances: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(distances)

    def selection_share(
        self,
        index: int,
        first: torch.Tensor,
        second: torch.Tensor,
        selected_atoms: Optional[Labels],
        dtype: torch.dtype,
    ) -> torch.Tensor:
        """Half of a pair's energy goes to each of its atoms that is selected."""
        if selected_atoms is None:
            return torch.ones(first.shape, dtype=dtype)
        mine = selected_atoms.column("system") == index
        atoms = selected_atoms.column("atom")[mine].to(torch.long)
        return 0.5 * (
            torch.isin(first, atoms).to(dtype) + torch.isin(second, atoms).to(dtype)
        )

    def per_structure(
        self, pair_energy: torch.Tensor, owners: torch.Tensor, count: int
    ) -> torch.Tensor:
        energies = torch.zeros(count, dtype=pair_energy.dtype)
        return energies.index_add(0, owners, pair_energy)

    def add_baseline(
        self,
        energies: torch.Tensor,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels],
    ) -> torch.Tensor:
        baseline = self.composition_baseline(systems, outputs, selected_atoms)
        if "energy" in baseline:
            return energies + baseline["energy"].block().values[:, 0]
        return energies

    # ---- the contract ------------------------------------------------------------

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        return {"energy": self.energy_map(systems, outputs, selected_atoms)}

    def energy_map(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> TensorMap:
        dtype = systems[0].positions.dtype
        vectors: List[torch.Tensor] = []
        pair_types: List[torch.Tensor] = []
        owners: List[torch.Tensor] = []
        shares: List[torch.Tensor] = []
        for index, system in enumerate(systems):
            pairs = system.get_neighbor_list(self.options)
            first = pairs.samples.column("first_atom").to(torch.long)
            second = pairs.samples.column("second_atom").to(torch.long)
            vectors.append(self.pair_vectors(system, pairs, first, second))
            types = system.types.to(torch.long)
            pair_types.append(types[first] * self.num_slots + types[second])
            owners.append(torch.full_like(first, index))
            shares.append(
                self.selection_share(index, first, second, selected_atoms, dtype)
            )
        distances = self.pair_distances(torch.cat(vectors))
        weights = self.weights.to(dtype).flatten()[torch.cat(pair_types)]
        pair_energy = weights * torch.exp(-distances) * self.cutoff_function(distances)
        pair_energy = pair_energy * self.batch_scale(distances) * torch.cat(shares)
        energies = self.per_structure(pair_energy, torch.cat(owners), len(systems))
        energies = self.add_baseline(energies, systems, outputs, selected_atoms)
        block = TensorBlock(
            energies.reshape(-1, 1),
            Labels(["system"], torch.arange(len(systems)).reshape(-1, 1)),
            [],
            Labels(["energy"], torch.tensor([[0]])),
        )
        return TensorMap(Labels(["_"], torch.tensor([[0]])), [block])

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        return {"energy": ENERGY.model_output()}

    def restart(self, dataset_info: DatasetInfo) -> "PairModel":
        return self

    @classmethod
    def load_checkpoint(cls, checkpoint: Dict[str, Any], context: Any) -> "PairModel":
        section = checkpoint["model"]
        model = cls(section["hypers"], DatasetInfo.from_dict(section["dataset_info"]))
        model.load_state_dict(section["state_dict"])
        return model.to(torch.float64)

    def get_checkpoint(self) -> Dict[str, Any]:
        checkpoint = new_checkpoint("pair", self.__checkpoint_version__)
        checkpoint["model"] = {
            "hypers": dict(self.hypers),
            "dataset_info": self.dataset_info.to_dict(),
            "state_dict": {k: v.detach() for k, v in self.state_dict().items()},
        }
        return checkpoint

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "model", cls.__checkpoint_version__, {})

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        capabilities = ModelCapabilities(
            outputs=self.supported_outputs(),
            atomic_types=TYPES,
            interaction_range=self.cutoff,
            length_unit="angstrom",
            supported_devices=["cpu"],
            dtype="float64",
        )
        chosen = metadata if metadata is not None else self.metadata
        return AtomisticModel(self.eval(), chosen, capabilities)


class PairTrainer(EngineTrainer[Dict[str, Any]]):
    __checkpoint_version__ = 1


# ---- bugs the suite caught before --------------------------------------------------


class FlippedForceSign(torch.autograd.Function):
    """A distance whose backward has the wrong sign (a typical custom-kernel bug)."""

    @staticmethod
    def forward(ctx: Any, vectors: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(vectors)
        return torch.linalg.vector_norm(vectors, dim=1)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (vectors,) = ctx.saved_tensors
        unit = vectors / torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
        return -grad[:, None] * unit


class FlippedForces(PairModel):
    """Non-conservative forces."""

    def pair_distances(self, vectors: torch.Tensor) -> torch.Tensor:
        return FlippedForceSign.apply(vectors)


class LeakyBatch(PairModel):
    def batch_scale(self, distances: torch.Tensor) -> torch.Tensor:
        # normalises by a statistic of the whole batch
        return distances.mean() / distances.detach().mean()


class NotInvariant(PairModel):
    def pair_distances(self, vectors: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(vectors, dim=1) + 0.1 * vectors[:, 0]


class HardCutoff(PairModel):
    def cutoff_function(self, distances: torch.Tensor) -> torch.Tensor:
        return (distances < self.cutoff).to(distances.dtype)


class MeanInsteadOfSum(PairModel):
    def per_structure(
        self, pair_energy: torch.Tensor, owners: torch.Tensor, count: int
    ) -> torch.Tensor:
        sums = super().per_structure(pair_energy, owners, count)
        pairs = torch.zeros(count, dtype=pair_energy.dtype).index_add(
            0, owners, torch.ones_like(pair_energy)
        )
        return sums / pairs


class IndexDependent(PairModel):
    def pair_vectors(
        self,
        system: System,
        pairs: TensorBlock,
        first: torch.Tensor,
        second: torch.Tensor,
    ) -> torch.Tensor:
        vectors = pairs.values.reshape(-1, 3)
        return vectors * (1.0 + 0.01 * first.to(vectors.dtype))[:, None]


class NewFormatSameVersion(PairModel):
    def get_checkpoint(self) -> Dict[str, Any]:
        checkpoint = super().get_checkpoint()
        checkpoint["model"]["cutoff"] = self.cutoff
        return checkpoint


class NotScriptable(PairModel):
    def batch_scale(self, distances: torch.Tensor) -> torch.Tensor:
        try:
            return torch.ones_like(distances)
        except RuntimeError:
            return torch.zeros_like(distances)


class PowerIsFloat(PairModel):
    """``3**n`` is a float in TorchScript: ``torch.zeros(3**n)`` does not compile."""

    def batch_scale(self, distances: torch.Tensor) -> torch.Tensor:
        n = 2
        return torch.ones_like(distances) + torch.zeros(3**n).sum()


# ---- bugs the suite missed ---------------------------------------------------------


class LinearCutoff(PairModel):
    """An energy continuous at the cutoff whose forces jump there (C0, not C1)."""

    def cutoff_function(self, distances: torch.Tensor) -> torch.Tensor:
        return 1.0 - distances / self.cutoff


class NoCellShifts(PairModel):
    """Pair vectors from positions alone, without the periodic cell shifts."""

    def pair_vectors(
        self,
        system: System,
        pairs: TensorBlock,
        first: torch.Tensor,
        second: torch.Tensor,
    ) -> torch.Tensor:
        return system.positions[second] - system.positions[first]


class IgnoresSelection(PairModel):
    """``selected_atoms`` ignored for the per-structure energy (LAMMPS would count
    its ghost atoms)."""

    def selection_share(
        self,
        index: int,
        first: torch.Tensor,
        second: torch.Tensor,
        selected_atoms: Optional[Labels],
        dtype: torch.dtype,
    ) -> torch.Tensor:
        return torch.ones(first.shape, dtype=dtype)


class BaselineOffWhenExported(PairModel):
    """The composition baseline left out of the exported (TorchScript) model."""

    def add_baseline(
        self,
        energies: torch.Tensor,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels],
    ) -> torch.Tensor:
        if torch.jit.is_scripting():
            return energies
        return super().add_baseline(energies, systems, outputs, selected_atoms)


class FlippedPredictTrainer(PairTrainer):
    """A trainer whose ``predict`` override returns the forces, -dE/dr, where the
    engine expects dE/dr (the labels hold minus the forces): trained, the model
    learns reversed forces."""

    def predict(
        self, model: Any, batch: Any, targets: Dict[str, Any]
    ) -> Dict[str, TensorMap]:
        predictions = super().predict(model, batch, targets)
        block = predictions["energy"].block()
        flipped = TensorBlock(
            block.values, block.samples, block.components, block.properties
        )
        for name, gradient in block.gradients():
            sign = -1.0 if name == "positions" else 1.0
            flipped.add_gradient(
                name,
                TensorBlock(
                    sign * gradient.values,
                    gradient.samples,
                    gradient.components,
                    gradient.properties,
                ),
            )
        return {"energy": TensorMap(predictions["energy"].keys, [flipped])}


# ---- spherical outputs ---------------------------------------------------------------

#: A per-structure spherical target: a vector (proper) and a pseudovector (improper).
MOMENT = TargetInfo(kind="spherical", irreps=((1, 1), (1, -1)))


class MomentModel(PairModel):
    """The pair potential, and a spherical ``mtt::moment``: per atom ``a_i = Σ_j
    w(t_j) e^(-r) f_c(r) r_ij`` and ``b_i = Σ_j e^(-2r) f_c(r) r_ij``; the structure's
    vector is ``Σ_i a_i`` and its pseudovector ``Σ_i cross(a_i, b_i)`` (components in
    ``o3_mu`` order, ``(y, z, x)``)."""

    def moment_blocks(
        self, first: torch.Tensor, second: torch.Tensor
    ) -> List[torch.Tensor]:
        """The atomic values of the two blocks from ``a_i`` and ``b_i`` ``[n, 3]``."""
        return [first, torch.linalg.cross(first, second)]

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        results: Dict[str, TensorMap] = {}
        if "energy" in outputs:
            results["energy"] = self.energy_map(systems, outputs, selected_atoms)
        if "mtt::moment" in outputs:
            results["mtt::moment"] = self._moment(systems)
        return results

    def _moment(self, systems: List[System]) -> TensorMap:
        values: List[List[torch.Tensor]] = [[], []]
        for system in systems:
            pairs = system.get_neighbor_list(self.options)
            first = pairs.samples.column("first_atom").to(torch.long)
            second = pairs.samples.column("second_atom").to(torch.long)
            vectors = pairs.values.reshape(-1, 3)
            distances = torch.linalg.vector_norm(vectors, dim=1)
            smooth = self.cutoff_function(distances)
            types = system.types.to(torch.long)
            weights = self.weights[types[second], 0] - self.weights[types[first], 0]
            n = len(system)
            a = torch.zeros((n, 3), dtype=vectors.dtype)
            b = torch.zeros((n, 3), dtype=vectors.dtype)
            pair_a = (weights * torch.exp(-distances) * smooth).unsqueeze(1) * vectors
            pair_b = (torch.exp(-2 * distances) * smooth).unsqueeze(1) * vectors
            # the pair seen from j: weight and vector both change sign
            a = a.index_add(0, first, pair_a).index_add(0, second, pair_a)
            b = b.index_add(0, first, pair_b).index_add(0, second, -pair_b)
            for block, atomic in enumerate(self.moment_blocks(a, b)):
                values[block].append(atomic.sum(dim=0)[[1, 2, 0]])
        keys = Labels(["o3_lambda", "o3_sigma"], torch.tensor([[1, 1], [1, -1]]))
        blocks = [
            TensorBlock(
                torch.stack(rows).reshape(len(systems), 3, 1),
                Labels(["system"], torch.arange(len(systems)).reshape(-1, 1)),
                [Labels(["o3_mu"], torch.tensor([[-1], [0], [1]]))],
                Labels(["properties"], torch.tensor([[0]])),
            )
            for rows in values
        ]
        return TensorMap(keys, blocks)

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        return {"energy": ENERGY.model_output(), "mtt::moment": MOMENT.model_output()}


class OnlyInvariantMoment(MomentModel):
    """The vector block holds the length of the vector in every component."""

    def moment_blocks(
        self, first: torch.Tensor, second: torch.Tensor
    ) -> List[torch.Tensor]:
        norms = torch.linalg.vector_norm(first, dim=1, keepdim=True).expand(-1, 3)
        return [norms, torch.linalg.cross(first, second)]


class WrongParityMoment(MomentModel):
    """The block declared improper (o3_sigma = -1) holds a proper vector."""

    def moment_blocks(
        self, first: torch.Tensor, second: torch.Tensor
    ) -> List[torch.Tensor]:
        return [first, first + second]


class MomentFlippedWhenExported(MomentModel):
    """The exported model returns the pseudovector with the wrong sign; the energy,
    the only output an energy-only export check compares, is right."""

    def moment_blocks(
        self, first: torch.Tensor, second: torch.Tensor
    ) -> List[torch.Tensor]:
        cross = torch.linalg.cross(first, second)
        return [first, -cross if torch.jit.is_scripting() else cross]
