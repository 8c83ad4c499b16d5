"""The metatomic model: an exported metatomic model (its TorchScript module, with its
own weights), its outputs converted to the dataset's units, and a per-element energy
correction on top.

The wrapped module stays in evaluation mode, and in eager training it runs outside
TorchScript's profiling executor (``torch.jit.optimized_execution(False)``): the
profiling executor re-specialises a scripted model for new input shapes, which a
training run's batches keep bringing. Measured on a PET exported by the reference
implementation (``benchmarks/metatomic_executor.py``): its first four steps took
10.8 s instead of 1.5 s, a step after a batch of another size 0.6 s instead of
0.34 s, and the steady steps were no faster (median 0.46 s against 0.37 s).
"""

import json
from typing import Any, Dict, List, Optional

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    NeighborListOptions,
    System,
    unit_conversion_factor,
)

from atomtrain.checkpoints import (
    check_weights,
    model_weights,
    new_checkpoint,
    stored_model_weights,
    upgrade,
)
from atomtrain.data.info import DatasetInfo
from atomtrain.errors import UserError
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.utils.abc import (
    ModelCheckpointContext,
    ModelInterface,
    RequestsNeighborLists,
)
from atomtrain.utils.dtype import dtype_to_str
from atomtrain.utils.model_io import parameter_dtype

from .documentation import ModelHypers
from .units import converted_systems, in_length_unit, scaled
from .wrapped import (
    OPTION,
    REPLAY_TARGET,
    archive_tensor,
    check_model,
    conversion_factor,
    load_archive,
    output_name,
    read_archive,
    select_trainable,
    tensor_archive,
)

ARCHITECTURE_NAME = "metatomic"

#: Key of the fine-tuning note in the exported model's ``metadata.extra``.
NOTE_KEY = "atomtrain-finetune"


class MetatomicModel(ModelInterface[ModelHypers], RequestsNeighborLists):
    """An exported metatomic model, fine-tuned: its outputs in the dataset's units,
    with a per-element energy correction added to its energies."""

    __checkpoint_version__ = 1
    __supported_devices__ = ["cuda", "cpu"]
    __supported_dtypes__ = [torch.float32, torch.float64]
    __default_metadata__ = ModelMetadata(
        name="metatomic",
        description="an exported metatomic model, fine-tuned by atomtrain",
        references={"implementation": [], "architecture": []},
    )
    __jit_ignored_attributes__ = [
        "hypers",
        "dataset_info",
        "archive",
        "source",
        "capabilities",
        "original_metadata",
        "finetuning",
    ]

    sources: Dict[str, str]
    factors: Dict[str, float]
    model_units: Dict[str, str]
    corrected: List[str]
    #: positions times this are in the wrapped model's length unit
    length_factor: float
    #: the neighbour lists as the data pipeline computes them (dataset's length
    #: unit), and as the wrapped model reads them (its own), pair by pair
    engine_lists: List[NeighborListOptions]
    model_lists: List[NeighborListOptions]

    def __init__(
        self,
        hypers: ModelHypers,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
        archive: Optional[bytes] = None,
    ) -> None:
        path = hypers.get("path")
        if archive is None and not path:
            raise UserError(
                f"{OPTION}.path: give the exported metatomic model to fine-tune "
                "(model: {path: model.pt})"
            )
        source = str(path) if path else "the checkpoint's model"
        archive = read_archive(str(path)) if archive is None else archive
        wrapped = load_archive(archive, source, hypers.get("extensions"))
        check_model(wrapped, source, dataset_info)
        super().__init__(hypers, dataset_info, metadata)
        self.source = source
        self.archive = archive_tensor(archive)
        self.capabilities: ModelCapabilities = wrapped.capabilities()
        self.original_metadata: ModelMetadata = wrapped.metadata()
        self.model_lists = list(wrapped.requested_neighbor_lists())
        self.length_factor = float(
            unit_conversion_factor(
                dataset_info.length_unit, self.capabilities.length_unit
            )
        )
        self.engine_lists = [
            in_length_unit(options, dataset_info.length_unit, self.length_factor)
            for options in self.model_lists
        ]
        self.wrapped = wrapped.module
        self.wrapped.eval()
        select_trainable(self.wrapped, list(hypers.get("trainable", ["*"])))
        self.finetuning: Dict[str, Any] = {}
        self.model_units = {
            name: output.unit for name, output in self.capabilities.outputs.items()
        }
        self.atomic_types = [int(t) for t in self.capabilities.atomic_types]
        self._configure(dataset_info)
        self.correction = CompositionBaseline(
            self.atomic_types, self._corrected_targets(dataset_info)
        )

    def _configure(self, dataset_info: DatasetInfo) -> None:
        """Which wrapped output predicts each target, the unit factors, and the
        energies that get the correction."""
        self.sources = {}
        self.factors = {}
        for name, info in dataset_info.targets.items():
            source = output_name(name)
            self.sources[name] = source
            self.factors[name] = conversion_factor(self.model_units[source], name, info)
        if "energy" in dataset_info.targets:
            # replay labels are in the unit of the energy (see .replay)
            self.sources[REPLAY_TARGET] = "energy"
            self.factors[REPLAY_TARGET] = self.factors["energy"]
        self.corrected = list(self._corrected_targets(dataset_info))

    @staticmethod
    def _corrected_targets(dataset_info: DatasetInfo) -> Dict[str, Any]:
        return {
            name: info
            for name, info in dataset_info.targets.items()
            if info.is_energy and name != REPLAY_TARGET
        }

    def train(self, mode: bool = True) -> "MetatomicModel":
        """Training mode for atomtrain's own modules; the wrapped model stays in
        evaluation mode (dropout and the like off, as when it was exported)."""
        super().train(mode)
        self.wrapped.eval()
        return self

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The wrapped model's lists, with cutoffs in the dataset's length unit."""
        return list(self.engine_lists)

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        requests: Dict[str, ModelOutput] = {}
        for name, output in outputs.items():
            source = self.sources.get(name, name)
            if source in self.model_units and name in self.sources:
                requests[source] = ModelOutput(
                    unit=self.model_units[source],
                    sample_kind=output.sample_kind,
                    explicit_gradients=output.explicit_gradients,
                )
            else:
                requests[source] = output
        if self.length_factor != 1.0:
            systems = converted_systems(
                systems, self.length_factor, self.engine_lists, self.model_lists
            )
        raw = self._call_wrapped(systems, requests, selected_atoms)
        corrected: Dict[str, ModelOutput] = {}
        for name in self.corrected:
            if name in outputs:
                corrected[name] = outputs[name]
        corrections = self.correction(systems, corrected, selected_atoms)
        results: Dict[str, TensorMap] = {}
        for name in outputs:
            tensor = raw[self.sources.get(name, name)]
            factor = self.factors.get(name, 1.0)
            if name in corrections:
                shift = corrections[name].block().values
                results[name] = scaled(tensor, factor, shift)
            elif factor != 1.0:
                results[name] = scaled(tensor, factor, None)
            else:
                results[name] = tensor
        return results

    def _call_wrapped(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels],
    ) -> Dict[str, TensorMap]:
        if torch.jit.is_scripting():
            return self.wrapped(systems, outputs, selected_atoms)
        return self._call_unprofiled(systems, outputs, selected_atoms)

    @torch.jit.unused
    def _call_unprofiled(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels],
    ) -> Dict[str, TensorMap]:
        """The wrapped module called outside the profiling executor (see the
        module's docstring)."""
        with torch.jit.optimized_execution(False):
            result: Dict[str, TensorMap] = self.wrapped(
                systems, outputs, selected_atoms
            )
        return result

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        """The wrapped model's outputs, the targets in the dataset's units."""
        outputs: Dict[str, ModelOutput] = {}
        for name, output in self.capabilities.outputs.items():
            if name == "features" and "feature" in self.capabilities.outputs:
                # metatomic's deprecated spelling, kept by older exports beside
                # the new one
                continue
            info = self.dataset_info.targets.get(name)
            outputs[name] = output if info is None else info.model_output()
        return outputs

    def restart(self, dataset_info: DatasetInfo) -> "MetatomicModel":
        """Take the targets of ``dataset_info`` too (the model must compute them);
        new energies get a correction of their own, fitted before training."""
        check_model(self._reloaded(), self.source, dataset_info)
        merged = self.dataset_info.union(dataset_info)
        self._configure(merged)
        self.correction = self.correction.extended(
            self.atomic_types, self._corrected_targets(merged)
        )
        self.dataset_info = merged
        return self

    def _reloaded(self) -> AtomisticModel:
        """The wrapped model as its file holds it (the pretrained weights)."""
        return load_archive(
            tensor_archive(self.archive), self.source, self.hypers.get("extensions")
        )

    def pretrained(self) -> "MetatomicModel":
        """This model with the pretrained weights and no correction, in the same
        dtype and device: what step-0 checks and replay labels compare with."""
        copy = MetatomicModel(
            self.hypers, self.dataset_info, archive=tensor_archive(self.archive)
        )
        probe = next(self.wrapped.parameters())
        return copy.to(device=probe.device, dtype=probe.dtype).eval()

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> "MetatomicModel":
        """The wrapped model from the archive the checkpoint holds, with the live
        weights to restart and the best ones otherwise."""
        if context not in ("restart", "finetune", "export"):
            raise ValueError(f"unknown checkpoint context '{context}'")
        section = checkpoint["model"]
        model = cls(
            dict(section["hypers"]),  # type: ignore[arg-type]
            DatasetInfo.from_dict(section["dataset_info"]),
            archive=tensor_archive(section["archive"]),
        )
        expected = model.state_dict()
        for entry, stored, partial in stored_model_weights(checkpoint):
            check_weights(expected, stored, entry, partial)
        weights = model_weights(checkpoint, context)
        model.to(next(iter(weights.values())).dtype)
        model.load_state_dict(weights)
        model.finetuning = json.loads(section["finetuning"])
        return model

    def get_checkpoint(self) -> Dict[str, Any]:
        checkpoint = new_checkpoint(ARCHITECTURE_NAME, self.__checkpoint_version__)
        checkpoint["model"] = {
            "hypers": dict(self.hypers),
            "dataset_info": self.dataset_info.to_dict(),
            "archive": self.archive.clone(),
            "finetuning": json.dumps(self.finetuning, sort_keys=True),
            "state_dict": {k: v.detach().cpu() for k, v in self.state_dict().items()},
        }
        return checkpoint

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "model", cls.__checkpoint_version__, {})

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        """The wrapped model with the fine-tuned weights and the correction, its
        original metadata (or ``metadata``) with the fine-tuning note added."""
        base = metadata if metadata is not None else self.original_metadata
        capabilities = ModelCapabilities(
            outputs={
                n: o for n, o in self.supported_outputs().items() if n != REPLAY_TARGET
            },
            atomic_types=list(self.atomic_types),
            interaction_range=float(self.capabilities.interaction_range)
            / self.length_factor,
            length_unit=self.dataset_info.length_unit,
            supported_devices=list(self.capabilities.supported_devices),
            dtype=dtype_to_str(parameter_dtype(self)),
        )
        return AtomisticModel(
            self.eval(), with_note(base, self.finetuning), capabilities
        )


def with_note(metadata: ModelMetadata, note: Dict[str, Any]) -> ModelMetadata:
    """``metadata`` with ``note`` (what the model was fine-tuned on) added to its
    ``extra`` as JSON (nothing added for an empty note)."""
    extra = dict(metadata.extra)
    if note:
        extra[NOTE_KEY] = json.dumps(note, sort_keys=True)
    return ModelMetadata(
        name=metadata.name,
        description=metadata.description,
        authors=list(metadata.authors),
        references={k: list(v) for k, v in metadata.references.items()},
        extra=extra,
    )
