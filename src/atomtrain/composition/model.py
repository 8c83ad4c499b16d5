"""The composition architecture's model: the composition baseline on its own."""

from typing import Any, Dict, List, Optional

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    System,
)

from ..checkpoints import UpgradeStep, load_weights, new_checkpoint, upgrade
from ..data.info import DatasetInfo
from ..errors import UserError
from ..modules.composition import CompositionBaseline, is_supported
from ..utils.abc import ModelCheckpointContext, ModelInterface
from ..utils.dtype import dtype_to_str
from .documentation import ModelHypers

ARCHITECTURE_NAME = "composition"

#: One-step upgrades of the model section: ``steps[v]`` turns version v into v + 1.
MODEL_UPGRADES: Dict[int, UpgradeStep] = {}


class UnsupportedTargetError(UserError):
    """A target the composition model cannot represent."""


def check_targets(dataset_info: DatasetInfo) -> None:
    """Refuse targets other than invariant scalars, naming all of them at once."""
    refused = [
        f"'{name}' ({info.kind}"
        + (f" rank {info.rank}" if info.kind == "cartesian" else "")
        + ")"
        for name, info in dataset_info.targets.items()
        if not is_supported(info)
    ]
    if refused:
        raise UnsupportedTargetError(
            "the composition architecture models invariant scalar targets only; it "
            f"cannot model {', '.join(refused)}. Remove these targets or train an "
            "architecture that supports them"
        )


class CompositionModel(ModelInterface[ModelHypers]):
    """Per-element linear model of every (scalar) target of ``dataset_info``."""

    __checkpoint_version__ = 1
    __supported_devices__ = ["cuda", "cpu"]
    __supported_dtypes__ = [torch.float64, torch.float32]
    __default_metadata__ = ModelMetadata(
        name="composition",
        description="per-element linear baseline fitted by least squares",
        references={"implementation": [], "architecture": []},
    )
    __jit_ignored_attributes__ = ["hypers", "dataset_info"]

    dtype_probe: torch.Tensor

    def __init__(
        self,
        hypers: ModelHypers,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        check_targets(dataset_info)
        super().__init__(hypers, dataset_info, metadata)
        self.composition_baseline = CompositionBaseline(
            dataset_info.atomic_types, dataset_info.targets
        )
        # follows .to(dtype) of the model while the baseline stays float64; gives the
        # dtype and device of the exported model
        self.register_buffer(
            "dtype_probe", torch.zeros(0, dtype=torch.float64), persistent=False
        )

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        return self.composition_baseline(systems, outputs, selected_atoms)

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        return {
            name: info.model_output()
            for name, info in self.dataset_info.targets.items()
        }

    def restart(self, dataset_info: DatasetInfo) -> "CompositionModel":
        """Extend to the new types and targets of ``dataset_info`` (weights of known
        ones are kept until the next fit)."""
        check_targets(dataset_info)
        merged = self.dataset_info.union(dataset_info)
        self.composition_baseline = self.composition_baseline.extended(
            merged.atomic_types, merged.targets
        )
        self.dataset_info = merged
        return self

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> "CompositionModel":
        """The same model in every context: it has no optimiser state, no EMA and
        no best-epoch weights distinct from its final ones."""
        if context not in ("restart", "finetune", "export"):
            raise ValueError(f"unknown checkpoint context '{context}'")
        section = checkpoint["model"]
        model = cls(
            dict(section["hypers"]),  # type: ignore[arg-type]
            DatasetInfo.from_dict(section["dataset_info"]),
        )
        load_weights(model, section["state_dict"], "model.state_dict")
        return model

    def get_checkpoint(self) -> Dict[str, Any]:
        checkpoint = new_checkpoint(ARCHITECTURE_NAME, self.__checkpoint_version__)
        checkpoint["model"] = {
            "hypers": dict(self.hypers),
            "dataset_info": self.dataset_info.to_dict(),
            "state_dict": {
                name: tensor.detach().cpu()
                for name, tensor in self.state_dict().items()
            },
        }
        return checkpoint

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "model", cls.__checkpoint_version__, MODEL_UPGRADES)

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        """A metatomic model computing every target, with interaction range 0 (it
        needs no neighbours), in the dtype the model was last moved to."""
        capabilities = ModelCapabilities(
            outputs=self.supported_outputs(),
            atomic_types=list(self.dataset_info.atomic_types),
            interaction_range=0.0,
            length_unit=self.dataset_info.length_unit,
            supported_devices=list(self.__supported_devices__),
            dtype=dtype_to_str(self.dtype_probe.dtype),
        )
        return AtomisticModel(
            self.eval(),
            metadata if metadata is not None else self.metadata,
            capabilities,
        )
