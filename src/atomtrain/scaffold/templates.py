"""The text of the scaffold's files. Tokens replaced when writing: ``@NAME@`` (the
Python package name), ``@MODULE@`` (its full import path), ``@ENTRY@`` (the name users
write in ``architecture.name``), ``@CLASS@`` (a CamelCase prefix), ``@TITLE@`` and
``@UNDERLINE@`` (the documentation title and its ``=`` line), ``@PEOPLE@`` (the
authors and maintainers, a list of ``(name-with-email, github-handle)`` pairs)."""

#: The model hypers of the generated tests (small, so that the suite runs fast).
TINY_HYPERS = {"cutoff": 4.0, "num_radial": 4, "hidden": 8}

INIT = '''"""The @ENTRY@ architecture: an MLP on radial symmetry functions."""

from @MODULE@.model import @CLASS@Model
from @MODULE@.trainer import @CLASS@Trainer

__model__ = @CLASS@Model
__trainer__ = @CLASS@Trainer

__authors__ = @PEOPLE@
__maintainers__ = @PEOPLE@
'''

DOCUMENTATION = '''"""
@TITLE@
@UNDERLINE@

A multilayer perceptron on radial symmetry functions. For atom i, the features are
G(i, t, k) = sum over the neighbours j of element t of exp(-((r_ij - mu_k) / w)^2)
f_c(r_ij), for every neighbour element t and Gaussian k, with the smooth cutoff
f_c(r) = (1 + cos(pi r / r_c)) / 2. Together with a one-hot code of the element of i
(so that the network sees each element pair) they go through a two-layer network with
one linear head per target. Per-structure targets sum the atomic contributions, and
the composition baseline is added. Invariant scalar targets only, with forces and
stress by automatic differentiation.
"""

from typing_extensions import TypedDict

from atomtrain.training.hypers import BaseTrainerHypers


class ModelHypers(TypedDict):
    """Hyperparameters of the model."""

    cutoff: float = 5.0
    """Radius of the atomic environments, in the length unit of the data."""
    num_radial: int = 8
    """Number of Gaussian radial functions between 0 and the cutoff."""
    hidden: int = 32
    """Width of the two hidden layers."""


class TrainerHypers(BaseTrainerHypers):
    """The shared trainer hyperparameters of :mod:`atomtrain.training`."""
'''

MODEL = '''"""The @ENTRY@ model: an MLP on radial symmetry functions."""

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

from atomtrain.checkpoints import model_weights, new_checkpoint, upgrade
from atomtrain.errors import UserError
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.utils.abc import (
    ModelInterface,
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
)
from atomtrain.utils.data import DatasetInfo
from atomtrain.utils.dtype import dtype_to_str

from @MODULE@.documentation import ModelHypers

#: One-step upgrades of the model checkpoint: UPGRADES[v] turns version v into v + 1.
#: A step that renames or changes tensors does so in every copy of the weights a
#: checkpoint holds: atomtrain.checkpoints.rename_parameters or upgrade_weights.
UPGRADES: Dict[int, Any] = {}


class @CLASS@Model(
    ModelInterface[ModelHypers],
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
):
    """Per-atom network on radial features; scalar targets, per structure or atom."""

    __checkpoint_version__ = 1
    __supported_devices__ = ["cuda", "cpu"]
    __supported_dtypes__ = [torch.float64, torch.float32]
    __default_metadata__ = ModelMetadata(
        name="@ENTRY@",
        description="MLP on radial symmetry functions",
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
        refused = [n for n, i in dataset_info.targets.items() if i.kind != "scalar"]
        if refused:
            raise UserError(
                f"the @ENTRY@ architecture models scalar targets only, not {refused}"
            )
        super().__init__(hypers, dataset_info, metadata)
        types = list(dataset_info.atomic_types)
        self.cutoff = float(hypers["cutoff"])
        self.num_types = len(types)
        lookup = torch.full((max(types) + 1,), -1, dtype=torch.long)
        lookup[types] = torch.arange(len(types))
        self.register_buffer("type_index", lookup, persistent=False)
        num_radial = int(hypers["num_radial"])
        centers = torch.linspace(0.0, self.cutoff, num_radial, dtype=torch.float64)
        self.register_buffer("centers", centers, persistent=False)
        self.width = self.cutoff / num_radial
        width = int(hypers["hidden"])
        self.network = torch.nn.Sequential(
            torch.nn.Linear(self.num_types * (num_radial + 1), width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, width),
            torch.nn.SiLU(),
        )
        targets = dataset_info.targets
        self.heads = torch.nn.ModuleDict(
            {n: torch.nn.Linear(width, i.num_subtargets) for n, i in targets.items()}
        )
        self.properties: Dict[str, str] = {
            n: i.property_name(n) for n, i in targets.items()
        }
        self.composition_baseline = CompositionBaseline(types, targets)
        self.neighbors = NeighborListOptions(self.cutoff, full_list=True, strict=False)

    def head_modules(self) -> Dict[str, torch.nn.Module]:
        """The head of each target (trained alone by ``finetune: heads``)."""
        return dict(self.heads.items())

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.neighbors]

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        hidden = self.network(self.features(systems))
        device = hidden.device
        counts = torch.tensor([len(s) for s in systems], device=device)
        indices = torch.arange(len(systems), device=device)
        system = torch.repeat_interleave(indices, counts)
        starts = torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
        atom = torch.arange(len(system), device=device) - starts
        keep = torch.ones_like(system, dtype=torch.bool)
        if selected_atoms is not None:
            stride = int(counts.max()) + 1
            wanted = selected_atoms.column("system") * stride
            wanted = wanted + selected_atoms.column("atom")
            keep = torch.isin(system * stride + atom, wanted.to(device))
        baseline = self.composition_baseline(systems, outputs, selected_atoms)
        results: Dict[str, TensorMap] = {}
        for name, head in self.heads.items():
            if name in outputs:
                values = head(hidden)[keep]
                if outputs[name].sample_kind == "atom":
                    indices = torch.stack([system[keep], atom[keep]], dim=1)
                    samples = Labels(["system", "atom"], indices.to(torch.int32))
                else:
                    shape = (len(systems), values.shape[1])
                    zeros = torch.zeros(shape, dtype=values.dtype, device=device)
                    values = zeros.index_add(0, system[keep], values)
                    rows = torch.arange(len(systems), device=device, dtype=torch.int32)
                    samples = Labels(["system"], rows.reshape(-1, 1))
                if name in baseline:
                    values = values + baseline[name].block().values
                count = torch.arange(values.shape[1], device=device, dtype=torch.int32)
                properties = Labels([self.properties[name]], count.reshape(-1, 1))
                block = TensorBlock(values, samples, [], properties)
                key = torch.zeros((1, 1), dtype=torch.int32, device=device)
                results[name] = TensorMap(Labels(["_"], key), [block])
        return results

    def features(self, systems: List[System]) -> torch.Tensor:
        """``[n_atoms, n_types * (num_radial + 1)]``: radial functions summed per
        neighbour element, then a one-hot code of the atom's element."""
        types = self.type_index[torch.cat([s.types for s in systems]).to(torch.long)]
        firsts: List[torch.Tensor] = []
        seconds: List[torch.Tensor] = []
        vectors: List[torch.Tensor] = []
        offset = 0
        for system in systems:
            pairs = system.get_neighbor_list(self.neighbors)
            firsts.append(pairs.samples.column("first_atom").to(torch.long) + offset)
            seconds.append(pairs.samples.column("second_atom").to(torch.long) + offset)
            vectors.append(pairs.values.reshape(-1, 3))
            offset += len(system)
        first, second = torch.cat(firsts), torch.cat(seconds)
        distances = torch.linalg.vector_norm(torch.cat(vectors), dim=1)
        smooth = 0.5 * (1.0 + torch.cos(math.pi * distances / self.cutoff))
        smooth = smooth * (distances < self.cutoff).to(distances.dtype)
        shifted = (distances[:, None] - self.centers.to(distances.dtype)) / self.width
        gaussians = torch.exp(-(shifted**2)) * smooth[:, None]
        slots = first * self.num_types + types[second]
        radial = torch.zeros(
            (offset * self.num_types, gaussians.shape[1]),
            dtype=distances.dtype,
            device=distances.device,
        ).index_add(0, slots, gaussians)
        one_hot = torch.nn.functional.one_hot(types, self.num_types)
        return torch.cat(
            [radial.reshape(offset, -1), one_hot.to(distances.dtype)], dim=1
        )

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        return {n: i.model_output() for n, i in self.dataset_info.targets.items()}

    def restart(self, dataset_info: DatasetInfo) -> "@CLASS@Model":
        new_targets = self.dataset_info.new_targets(dataset_info)
        new_types = self.dataset_info.new_atomic_types(dataset_info)
        if new_targets or new_types:
            raise UserError(
                "the @ENTRY@ architecture cannot add targets or atomic types to a "
                f"trained model (new targets {new_targets}, new types {new_types})"
            )
        return self

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: Any
    ) -> "@CLASS@Model":
        section = checkpoint["model"]
        model = cls(section["hypers"], DatasetInfo.from_dict(section["dataset_info"]))
        weights = model_weights(checkpoint, context)
        model.to(weights["network.0.weight"].dtype)
        model.load_state_dict(weights)
        return model

    def get_checkpoint(self) -> Dict[str, Any]:
        checkpoint = new_checkpoint("@ENTRY@", self.__checkpoint_version__)
        checkpoint["model"] = {
            "hypers": dict(self.hypers),
            "dataset_info": self.dataset_info.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }
        return checkpoint

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "model", cls.__checkpoint_version__, UPGRADES)

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        capabilities = ModelCapabilities(
            outputs=self.supported_outputs(),
            atomic_types=list(self.dataset_info.atomic_types),
            interaction_range=self.cutoff,
            length_unit=self.dataset_info.length_unit,
            supported_devices=list(self.__supported_devices__),
            dtype=dtype_to_str(next(self.network.parameters()).dtype),
        )
        chosen = metadata if metadata is not None else self.metadata
        return AtomisticModel(self.eval(), chosen, capabilities)
'''

TRAINER = '''"""The @ENTRY@ trainer: the shared training engine, default hooks."""

from typing import Any, Dict

from atomtrain.checkpoints import upgrade
from atomtrain.training.engine import EngineTrainer

from @MODULE@.documentation import TrainerHypers

#: One-step upgrades of the trainer checkpoint: UPGRADES[v] turns version v into v + 1.
UPGRADES: Dict[int, Any] = {}


class @CLASS@Trainer(EngineTrainer[TrainerHypers]):
    """Trains the @ENTRY@ model with the engine; override hooks here (optimiser
    groups, augmentation, predictions) when the model needs them."""

    __checkpoint_version__ = 1

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "trainer", cls.__checkpoint_version__, UPGRADES)
'''

TESTS = '''"""The @ENTRY@ architecture runs atomtrain's conformance suite.

When the checkpoint format changes, the test ``format_unchanged`` fails and says what
to do: regenerate the golden checkpoint of a version never released, or bump the
__checkpoint_version__ of a released one and add its upgrade (it then writes the
golden checkpoint of the new version and says where to put it).
"""

from pathlib import Path

import pytest

from atomtrain.testing import ArchitectureTests


class Test@CLASS@(ArchitectureTests):
    architecture = "@ENTRY@"
    model_hypers = @TINY_HYPERS@

    @pytest.fixture
    def golden_directory(self) -> Path:
        return Path(__file__).parent / "checkpoints"
'''

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "atomtrain-@DIST@"
version = "0.1.0"
description = "The @ENTRY@ architecture for atomtrain"
requires-python = ">=3.10"
dependencies = ["atomtrain"]

[project.entry-points."atomtrain.architectures"]
@ENTRY@ = "@MODULE@"

[tool.setuptools.packages.find]
where = ["src"]
"""
