"""Plant one bug at a time in a correct tiny architecture and check that the suite
catches each one (and passes the correct architecture).

The architecture is a smooth pair potential defined here: ``E = Σ_pairs w(t_i, t_j)
exp(-r) f_c(r)`` with a cosine cutoff, per structure. Each bug is a subclass that
overrides one method.
"""

import math
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
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
from atomtrain.data.info import DatasetInfo
from atomtrain.testing import ConformanceError, Probe
from atomtrain.testing import physics_checks as checks
from atomtrain.testing.base import ENERGY
from atomtrain.testing.checkpoints import CheckpointTests
from atomtrain.testing.systems import cluster, crystal
from atomtrain.testing.torchscript import export_and_save
from atomtrain.training.engine import EngineTrainer
from atomtrain.utils.abc import ModelInterface, RequestsNeighborLists

TYPES = [1, 6, 8]


class PairModel(ModelInterface[Dict[str, Any]], RequestsNeighborLists):
    """A correct, scriptable pair potential of the energy (no postponed annotations
    in this module: metatomic reads the signature of ``forward``)."""

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

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.options]

    def pair_distances(self, vectors: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(vectors, dim=1)

    def batch_scale(self, distances: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(distances)

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        all_distances: List[torch.Tensor] = []
        pair_types: List[torch.Tensor] = []
        owners: List[torch.Tensor] = []
        for index, system in enumerate(systems):
            pairs = system.get_neighbor_list(self.options)
            first = pairs.samples.column("first_atom").to(torch.long)
            second = pairs.samples.column("second_atom").to(torch.long)
            all_distances.append(self.pair_distances(pairs.values.reshape(-1, 3)))
            types = system.types.to(torch.long)
            pair_types.append(types[first] * self.num_slots + types[second])
            owners.append(torch.full_like(first, index))
        distances = torch.cat(all_distances)
        smooth = 0.5 * (1.0 + torch.cos(math.pi * distances / self.cutoff))
        weights = self.weights.to(distances.dtype).flatten()[torch.cat(pair_types)]
        pair_energy = weights * torch.exp(-distances) * smooth
        pair_energy = pair_energy * self.batch_scale(distances)
        dtype = systems[0].positions.dtype
        energies = torch.zeros(len(systems), dtype=dtype).index_add(
            0, torch.cat(owners), pair_energy
        )
        block = TensorBlock(
            energies.reshape(-1, 1),
            Labels(["system"], torch.arange(len(systems)).reshape(-1, 1)),
            [],
            Labels(["energy"], torch.tensor([[0]])),
        )
        return {"energy": TensorMap(Labels(["_"], torch.tensor([[0]])), [block])}

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
        return AtomisticModel(self.eval(), self.metadata, capabilities)


class PairTrainer(EngineTrainer[Dict[str, Any]]):
    __checkpoint_version__ = 1


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
    def pair_distances(self, vectors: torch.Tensor) -> torch.Tensor:
        return FlippedForceSign.apply(vectors)


class LeakyBatch(PairModel):
    def batch_scale(self, distances: torch.Tensor) -> torch.Tensor:
        # normalises by a statistic of the whole batch
        return distances.mean() / distances.detach().mean()


class NotInvariant(PairModel):
    def pair_distances(self, vectors: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(vectors, dim=1) + 0.1 * vectors[:, 0]


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


def probe_of(model_class: type) -> Probe:
    torch.manual_seed(0)
    info = DatasetInfo(length_unit="angstrom", atomic_types=TYPES, targets={})
    model = model_class({}, info).to(torch.float64)
    return Probe(model, {"energy": ENERGY})


MOLECULE = cluster(TYPES, 5, seed=1, size=3.0)
PERIODIC = crystal(TYPES, 4, seed=2)


def physics(probe: Probe) -> None:
    checks.check_forces(probe, MOLECULE)
    checks.check_stress(probe, PERIODIC)
    checks.check_gradcheck(probe, cluster(TYPES, 3, seed=9, size=2.5))
    checks.check_rotation_invariance(probe, [MOLECULE, PERIODIC], 1e-9)
    checks.check_permutation_invariance(probe, PERIODIC)
    checks.check_batch_independence(probe, MOLECULE, PERIODIC)
    checks.check_far_apart_copies(probe, MOLECULE)
    checks.check_cutoff_continuity(probe, TYPES, 3.0)


def test_the_correct_model_passes_the_physics_and_export_checks(tmp_path):
    probe = probe_of(PairModel)
    checks.check_forces_are_not_zero(probe, MOLECULE)
    physics(probe)
    export_and_save(probe.model, tmp_path / "model.pt")  # type: ignore[arg-type]


def test_a_flipped_force_sign_is_caught():
    with pytest.raises(ConformanceError, match="finite differences") as error:
        checks.check_forces(probe_of(FlippedForces), MOLECULE)
    assert "What to change" in str(error.value)


def test_a_gradient_between_structures_is_caught():
    with pytest.raises(ConformanceError, match="non-zero gradient"):
        checks.check_batch_independence(probe_of(LeakyBatch), MOLECULE, PERIODIC)


def test_a_non_invariant_feature_is_caught():
    with pytest.raises(ConformanceError, match=r"under a (rotation|reflection)"):
        checks.check_rotation_invariance(
            probe_of(NotInvariant), [MOLECULE, PERIODIC], 1e-9
        )


def test_a_non_scriptable_forward_is_caught(tmp_path):
    with pytest.raises(ConformanceError, match="TorchScript cannot compile"):
        export_and_save(probe_of(NotScriptable).model, tmp_path / "model.pt")  # type: ignore[arg-type]


class PairCheckpoints(CheckpointTests):
    architecture = "pair"
    epoch_based = True


def _format_check(model_class: type, golden: Path, tmp_path: Path) -> None:
    def build(targets: Dict[str, Any]) -> ModelInterface[Any]:
        torch.manual_seed(0)
        info = DatasetInfo(length_unit="angstrom", atomic_types=TYPES, targets=targets)
        return model_class({}, info).to(torch.float64)

    hypers = {"model": {}, "training": {"num_epochs": 1, "batch_size": 4}}
    PairCheckpoints().test_format_unchanged_without_version_bump(
        golden, "pair", build, model_class, PairTrainer, hypers, tmp_path
    )


def test_a_format_change_without_a_version_bump_is_caught(tmp_path):
    golden = tmp_path / "golden"
    golden.mkdir()
    with pytest.raises(ConformanceError, match="no golden checkpoint") as error:
        _format_check(PairModel, golden, tmp_path / "first")
    written = tmp_path / "first" / "pair-model-v1-trainer-v1.ckpt"
    assert f"cp {written} {golden / written.name}" in str(error.value)
    written.rename(golden / written.name)

    _format_check(PairModel, golden, tmp_path / "unchanged")
    with pytest.raises(
        ConformanceError, match="model checkpoint format changed"
    ) as error:
        _format_check(NewFormatSameVersion, golden, tmp_path / "changed")
    assert "'cutoff'" in str(error.value) and "bump" in str(error.value)
