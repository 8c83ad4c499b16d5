"""The LLPR model: a trained model plus uncertainty (and ensemble) outputs.

:class:`LLPRModel` holds the wrapped model as ``wrapped`` and one
:class:`TargetUncertainty` per calibrated target (inverse covariance, scale,
ensemble offsets). ``forward`` asks the wrapped model for the requested outputs and
the last-layer features they need, then adds ``<t>_uncertainty`` and ``<t>_ensemble``.
"""

from typing import Any, Dict, List, Optional

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    System,
)

from atomtrain.checkpoints import load_weights, new_checkpoint, upgrade
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import UserError
from atomtrain.utils.abc import ModelCheckpointContext, ModelInterface
from atomtrain.utils.outputs import last_layer_features_name as features_name

from .documentation import ModelHypers

ARCHITECTURE_NAME = "llpr"


def derived_name(target: str, suffix: str) -> str:
    """``energy`` → ``energy_<suffix>``; variants keep theirs
    (``energy/pbe`` → ``energy_<suffix>/pbe``)."""
    base, _, variant = target.partition("/")
    return f"{base}_{suffix}" + (f"/{variant}" if variant else "")


class TargetUncertainty(torch.nn.Module):
    """Calibrated LLPR of one single-property target (float64 buffers)."""

    inverse: torch.Tensor
    scale: torch.Tensor
    offsets: torch.Tensor

    def __init__(self, target: str, info: TargetInfo, size: int, members: int):
        super().__init__()
        self.target = target
        self.features = features_name(target)
        self.uncertainty = derived_name(target, "uncertainty")
        self.ensemble = derived_name(target, "ensemble")
        self.property_name = info.property_name(target)
        self.per_atom = info.per_atom
        self.register_buffer("inverse", torch.zeros((size, size), dtype=torch.float64))
        self.register_buffer("scale", torch.zeros((), dtype=torch.float64))
        self.register_buffer(
            "offsets", torch.zeros((size, members), dtype=torch.float64)
        )

    def _apply(self, fn: Any, recurse: bool = True) -> "TargetUncertainty":
        # follow device moves, keep float64: the inverse covariance needs it
        probe = fn(torch.zeros(0, dtype=torch.float64, device=self.inverse.device))
        for name in ("inverse", "scale", "offsets"):
            self._buffers[name] = self._buffers[name].to(device=probe.device)  # type: ignore[union-attr]
        return self

    def sigma(self, features: torch.Tensor) -> torch.Tensor:
        """``[n, 1]`` uncertainties for features ``[n, F]``."""
        phi = features.to(torch.float64)
        quadratic = ((phi @ self.inverse) * phi).sum(dim=1, keepdim=True)
        return torch.sqrt(self.scale * quadratic.clamp(min=0.0)).to(features.dtype)

    def members(self, prediction: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``[n, K]`` ensemble predictions: the prediction plus ``φ · δ_k``."""
        return prediction + features @ self.offsets.to(features.dtype)

    def requests(self, outputs: Dict[str, ModelOutput]) -> Dict[str, ModelOutput]:
        """What to ask the wrapped model for to compute the requested ``outputs``."""
        requests: Dict[str, ModelOutput] = {}
        for name in [self.uncertainty, self.ensemble]:
            if name in outputs:
                kind = outputs[name].sample_kind
                requests[self.features] = ModelOutput(sample_kind=kind)
                if name == self.ensemble:
                    requests[self.target] = ModelOutput(
                        unit=outputs[name].unit, sample_kind=kind
                    )
        return requests

    def forward(
        self, computed: Dict[str, TensorMap], outputs: Dict[str, ModelOutput]
    ) -> Dict[str, TensorMap]:
        """The requested uncertainty and ensemble from the wrapped model's
        ``computed`` outputs."""
        results: Dict[str, TensorMap] = {}
        if self.features not in computed:
            return results
        block = computed[self.features].block()
        if self.uncertainty in outputs:
            sigma = self.sigma(block.values)
            results[self.uncertainty] = _single(sigma, block, self.property_name)
        if self.ensemble in outputs:
            prediction = computed[self.target].block().values
            members = self.members(prediction, block.values)
            results[self.ensemble] = _single(members, block, self.property_name)
        return results


class LLPRModel(ModelInterface[ModelHypers]):
    """A trained model of any architecture with LLPR uncertainties."""

    __checkpoint_version__ = 1
    __supported_devices__ = ["cuda", "cpu"]
    __supported_dtypes__ = [torch.float64, torch.float32]
    __default_metadata__ = ModelMetadata(
        name="llpr",
        description="last-layer prediction rigidity uncertainties",
        references={
            "implementation": [],
            "architecture": ["https://doi.org/10.1088/2632-2153/ad805f"],
        },
    )
    __jit_ignored_attributes__ = ["hypers", "dataset_info", "wrapped_checkpoint"]

    def __init__(
        self,
        hypers: ModelHypers,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        super().__init__(hypers, dataset_info, metadata)
        self.wrapped: torch.nn.Module = torch.nn.Identity()
        self.wrapped_checkpoint: Dict[str, Any] = {}
        self.wrapped_outputs: List[str] = []
        self.uncertainties = torch.nn.ModuleDict()

    @torch.jit.unused
    def attach(self, model: ModelInterface[Any], sizes: Dict[str, int]) -> None:
        """Wrap ``model``; ``sizes`` gives the feature size of each target to
        calibrate."""
        self.wrapped = model
        self.wrapped_checkpoint = model.get_checkpoint()
        self.wrapped_outputs = list(model.supported_outputs())
        ensembles = dict(self.hypers["ensembles"])
        unknown = [t for t in ensembles if t not in sizes]
        if unknown:
            raise UserError(
                f"architecture.model.ensembles names {unknown}, which have no "
                f"calibrated uncertainty; calibrated targets: {sorted(sizes)}"
            )
        for target, size in sizes.items():
            info = model.dataset_info.targets[target]
            self.uncertainties[target] = TargetUncertainty(
                target, info, size, int(ensembles.get(target, 0))
            )

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        requests: Dict[str, ModelOutput] = {}
        for name, output in outputs.items():
            if name in self.wrapped_outputs:
                requests[name] = output
        for llpr in self.uncertainties.values():
            requests.update(llpr.requests(outputs))  # type: ignore[operator]
        computed = self.wrapped(systems, requests, selected_atoms)
        results: Dict[str, TensorMap] = {}
        for name in outputs:
            if name in computed:
                results[name] = computed[name]
        for llpr in self.uncertainties.values():
            results.update(llpr(computed, outputs))
        return results

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        outputs: Dict[str, ModelOutput] = {}
        if isinstance(self.wrapped, ModelInterface):
            outputs.update(self.wrapped.supported_outputs())
        for target, llpr in self.uncertainties.items():
            assert isinstance(llpr, TargetUncertainty)
            info = self.dataset_info.targets.get(target) or TargetInfo()
            if isinstance(self.wrapped, ModelInterface):
                info = self.wrapped.dataset_info.targets[target]
            description = f"LLPR uncertainty (one standard deviation) of '{target}'"
            outputs[llpr.uncertainty] = ModelOutput(
                unit=info.unit, sample_kind=info.sample_kind, description=description
            )
            if int(llpr.offsets.shape[1]) > 0:
                outputs[llpr.ensemble] = ModelOutput(
                    unit=info.unit,
                    sample_kind=info.sample_kind,
                    description=f"last-layer ensemble of '{target}'",
                )
        return outputs

    def restart(self, dataset_info: DatasetInfo) -> "LLPRModel":
        raise UserError(
            "an LLPR model is not trained further: restart or fine-tune the wrapped "
            "model, then compute a new LLPR model from its checkpoint"
        )

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> "LLPRModel":
        section = checkpoint["model"]
        model = cls(
            dict(section["hypers"]),  # type: ignore[arg-type]
            DatasetInfo.from_dict(section["dataset_info"]),
        )
        wrapped = load_wrapped(section["wrapped"])
        model.attach(wrapped, dict(section["feature_sizes"]))
        load_weights(model.uncertainties, section["state_dict"], "model.state_dict")
        return model

    def get_checkpoint(self) -> Dict[str, Any]:
        checkpoint = new_checkpoint(ARCHITECTURE_NAME, self.__checkpoint_version__)
        checkpoint["model"] = {
            "hypers": dict(self.hypers),
            "dataset_info": self.dataset_info.to_dict(),
            "wrapped": self.wrapped_checkpoint,
            "feature_sizes": {
                t: int(m.inverse.shape[0])  # type: ignore[index]
                for t, m in self.uncertainties.items()
            },
            "state_dict": {
                k: v.detach().cpu() for k, v in self.uncertainties.state_dict().items()
            },
        }
        return checkpoint

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "model", cls.__checkpoint_version__, {})

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        if not isinstance(self.wrapped, ModelInterface):
            raise UserError("this LLPR model wraps no model yet; train it first")
        # the wrapped model's own outputs: the capabilities of its exported form
        # also list the deprecated aliases metatomic adds (``features``)
        inner = self.wrapped.export().capabilities()
        capabilities = ModelCapabilities(
            outputs=self.supported_outputs(),
            atomic_types=inner.atomic_types,
            interaction_range=inner.interaction_range,
            length_unit=inner.length_unit,
            supported_devices=inner.supported_devices,
            dtype=inner.dtype,
        )
        return AtomisticModel(
            self.eval(),
            metadata if metadata is not None else self.metadata,
            capabilities,
        )


def load_wrapped(checkpoint: Dict[str, Any]) -> ModelInterface[Any]:
    """The model of an (upgraded) checkpoint of any architecture, for export."""
    from atomtrain.architectures.discovery import import_architecture

    architecture = import_architecture(str(checkpoint["architecture_name"]))
    checkpoint = architecture.__model__.upgrade_checkpoint(checkpoint)
    return architecture.__model__.load_checkpoint(checkpoint, context="export")


def _single(values: torch.Tensor, like: TensorBlock, property_name: str) -> TensorMap:
    """``values [n, P]`` with the samples of ``like`` as a one-block TensorMap."""
    device = values.device
    count = torch.arange(values.shape[1], device=device, dtype=torch.int32)
    block = TensorBlock(
        values, like.samples, [], Labels([property_name], count.reshape(-1, 1))
    )
    keys = Labels(["_"], torch.zeros((1, 1), dtype=torch.int32, device=device))
    return TensorMap(keys, [block])
