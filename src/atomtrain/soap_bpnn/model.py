"""The SOAP-BPNN model: SOAP power spectra, per-element networks, per-target heads.

Forward pass for a batch of systems:

1. the pairs of every system's neighbour list are stacked (``vectors [P, 3]``,
   centre and neighbour indices into the stacked atoms);
2. :class:`SphericalExpansion` then :class:`PowerSpectrum` give the descriptor of
   every atom ``[n_atoms, n_features]``;
3. atoms are sorted by element, and each element's chunk goes through its network
   (:mod:`~atomtrain.soap_bpnn.networks`), its head and its last layer;
4. with ``zbl: true``, the energies' atomic values gain the ZBL repulsion;
5. atomic values are summed per structure (unless per atom), plus the composition
   baseline (off while the engine trains: :mod:`atomtrain.training.baseline`).
Forces and stress are the autograd derivatives of the energy through the pair vectors.
"""

import math
from typing import Any, Dict, List, Optional, Tuple

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelMetadata,
    ModelOutput,
    NeighborListOptions,
    System,
)

from atomtrain.checkpoints import upgrade
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.modules.invariant_parts import add_invariant_baseline
from atomtrain.modules.long_range import build_long_range
from atomtrain.modules.scaling import OutputScaler
from atomtrain.modules.zbl import EnergyRepulsion
from atomtrain.utils.abc import (
    ModelCheckpointContext,
    ModelInterface,
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
    WithOutputScaler,
)
from atomtrain.utils.model_io import build_from_checkpoint, checkpoint_of, export_model
from atomtrain.utils.outputs import last_layer_features_name

from .documentation import DEFAULT_HEAD, ModelHypers
from .equivariant import SphericalHead, tensor_targets
from .heads import (
    NewAtomicTypesError,
    TargetHead,
    atomic_tensor,
    check_hypers,
    check_targets,
    tensor_output,
)
from .networks import element_networks
from .power_spectrum import PowerSpectrum
from .spherical_expansion import SphericalExpansion
from .systems import selected_mask, stack_systems
from .upgrades import MODEL_UPGRADES

ARCHITECTURE_NAME = "soap_bpnn"


class SoapBpnn(
    ModelInterface[ModelHypers],
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithOutputScaler,
    WithHeads,
):
    """SOAP power spectrum + Behler-Parrinello per-element networks (output scales
    for the tensor targets only: see :mod:`~atomtrain.soap_bpnn.equivariant`)."""

    __checkpoint_version__ = 5
    __supported_devices__ = ["cuda", "cpu"]
    # float32 first, as the reference implementation: one options file trains in the
    # same precision with both (base_precision: 64 asks for float64)
    __supported_dtypes__ = [torch.float32, torch.float64]
    __default_metadata__ = ModelMetadata(
        name="soap_bpnn",
        description="SOAP power spectrum with per-element neural networks",
        references={
            "implementation": [
                "sphericart: https://doi.org/10.1063/5.0156307",
            ],
            "architecture": [
                "SOAP: https://doi.org/10.1103/PhysRevB.87.184115",
                "BPNN: https://doi.org/10.1103/PhysRevLett.98.146401",
            ],
        },
    )
    __jit_ignored_attributes__ = ["hypers", "dataset_info"]

    type_index: torch.Tensor
    spherical_keys: Dict[str, Labels]
    per_atom: Dict[str, bool]
    property_names: Dict[str, str]
    last_layer_names: Dict[str, str]

    def __init__(
        self,
        hypers: ModelHypers,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        check_targets(dataset_info, int(hypers["soap"]["max_angular"]))
        check_hypers(hypers, dataset_info)
        super().__init__(hypers, dataset_info, metadata)
        types = list(dataset_info.atomic_types)
        self.n_types = len(types)
        lookup = torch.full((max(types, default=0) + 1,), -1, dtype=torch.long)
        lookup[types] = torch.arange(len(types))
        self.register_buffer("type_index", lookup, persistent=False)

        soap = hypers["soap"]
        self.cutoff = float(soap["cutoff"]["radius"])
        self.expansion = SphericalExpansion(
            self.n_types,
            self.cutoff,
            float(soap["cutoff"]["width"]),
            int(soap["max_radial"]),
            int(soap["max_angular"]),
        )
        self.power_spectrum = PowerSpectrum(
            [self.n_types * n for n in self.expansion.n_per_l]
        )
        self.bpnn, self.width = element_networks(
            hypers["bpnn"], self.power_spectrum.size, self.n_types
        )
        self.long_range_enabled = bool(hypers["long_range"]["enable"])
        self.long_range = build_long_range(
            hypers["long_range"], self.cutoff, self.width, self.width
        )
        self.heads = torch.nn.ModuleDict()
        self.spherical_heads = torch.nn.ModuleDict()
        self.spherical_keys = {}
        self.per_atom = {}
        self.property_names = {}
        self.last_layer_names = {}
        self.zbl = EnergyRepulsion(bool(hypers["zbl"]), types, dataset_info.length_unit)
        for name, info in dataset_info.targets.items():
            self._add_target(name, info)
        self.composition_baseline = CompositionBaseline(types, dataset_info.targets)
        self.output_scaler = OutputScaler(tensor_targets(dataset_info))
        self.neighbors = NeighborListOptions(self.cutoff, full_list=True, strict=True)

    def _add_target(self, name: str, info: TargetInfo) -> None:
        kind = dict(self.hypers["heads"]).get(name, DEFAULT_HEAD)
        if info.kind in ("spherical", "cartesian"):
            self.spherical_heads[name] = SphericalHead(
                self.n_types,
                self.width,
                info.num_subtargets,
                kind == "mlp",
                [self.n_types * n for n in self.expansion.n_per_l],
                int(self.hypers["spherical_channels"]),
                [(int(lam), int(sigma)) for lam, sigma in info.irreps],
                info.rank if info.kind == "cartesian" else 0,
            )
            self.spherical_keys[name] = info.keys()
        else:
            self.heads[name] = TargetHead(
                self.n_types, self.width, info.num_subtargets, kind == "mlp"
            )
        self.per_atom[name] = info.per_atom
        self.property_names[name] = info.property_name(name)
        self.last_layer_names[name] = last_layer_features_name(name)
        self.zbl.add_target(name, info.is_energy, info.unit)

    @torch.jit.unused
    def dtype(self) -> torch.dtype:
        """The dtype of the weights (the baseline and tables stay float64)."""
        return next(self.heads.parameters()).dtype

    def head_modules(self) -> Dict[str, torch.nn.Module]:
        """The head of each target (trained alone by ``finetune: heads``)."""
        return {**dict(self.heads.items()), **dict(self.spherical_heads.items())}

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.neighbors, *self.zbl.neighbor_lists()]

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        species, system, atom, centers, neighbors, vectors = stack_systems(
            systems, self.neighbors, self.type_index
        )
        coefficients = self.expansion(
            vectors, centers, species.index_select(0, neighbors), species.shape[0]
        )
        features = self.power_spectrum(coefficients)
        hidden, order = self._hidden(species, features)
        if self.long_range_enabled:
            hidden = self._with_long_range(systems, hidden, order)
        system = system.index_select(0, order)
        atom = atom.index_select(0, order)
        keep = selected_mask(system, atom, selected_atoms)
        n_systems = len(systems)
        results: Dict[str, TensorMap] = {}
        if "feature" in outputs:
            results["feature"] = atomic_tensor(
                torch.cat(hidden)[keep],
                system[keep],
                atom[keep],
                n_systems,
                outputs["feature"].sample_kind == "atom",
                "feature",
                None,
            )
        baseline = self.composition_baseline(systems, outputs, selected_atoms)
        repulsion = self.zbl(systems, outputs, order[keep])
        samples = (system[keep], atom[keep], keep)
        self._scalars(results, outputs, hidden, samples, n_systems, baseline, repulsion)
        if len(self.spherical_heads) > 0:
            sorted_coefficients = [c.index_select(0, order) for c in coefficients]
            self._spherical(
                results,
                outputs,
                (hidden, sorted_coefficients),
                samples,
                n_systems,
                baseline,
            )
        return results

    def _scalars(
        self,
        results: Dict[str, TensorMap],
        outputs: Dict[str, ModelOutput],
        hidden: List[torch.Tensor],
        samples: Tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        n_systems: int,
        baseline: Dict[str, TensorMap],
        repulsion: torch.Tensor,
    ) -> None:
        """Add the invariant targets and last-layer features asked for in
        ``outputs`` to ``results`` (``samples`` as for :meth:`_spherical`)."""
        system, atom, keep = samples
        # a ModuleDict is unrolled by TorchScript: no `continue` in this loop
        for name, head in self.heads.items():
            auxiliary = self.last_layer_names[name]
            if name in outputs or auxiliary in outputs:
                # mypy sees ModuleDict items as plain Modules
                last_features = head.last_layer_features(hidden)  # type: ignore[operator]
                if auxiliary in outputs:
                    results[auxiliary] = atomic_tensor(
                        head.padded(last_features)[keep],  # type: ignore[operator]
                        system,
                        atom,
                        n_systems,
                        outputs[auxiliary].sample_kind == "atom",
                        "feature",
                        None,
                    )
                if name in outputs:
                    per_atom = (
                        self.per_atom[name] or outputs[name].sample_kind == "atom"
                    )
                    values = head.last_layer(last_features)[keep]  # type: ignore[operator]
                    values = self.zbl.add(name, values, repulsion)
                    results[name] = atomic_tensor(
                        values,
                        system,
                        atom,
                        n_systems,
                        per_atom,
                        self.property_names[name],
                        baseline[name].block().values if name in baseline else None,
                    )

    def _spherical(
        self,
        results: Dict[str, TensorMap],
        outputs: Dict[str, ModelOutput],
        features: Tuple[List[torch.Tensor], List[torch.Tensor]],
        samples: Tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        n_systems: int,
        baseline: Dict[str, TensorMap],
    ) -> None:
        """Add the tensor targets asked for in ``outputs`` to ``results``, with the
        ``baseline`` of their invariant part; ``features``: the hidden features and
        density coefficients in element-sorted atom order, ``samples``: the system
        and atom index of the kept atoms and the mask that keeps them."""
        hidden, coefficients = features
        system, atom, keep = samples
        for name, head in self.spherical_heads.items():
            if name in outputs:
                values = [
                    self.output_scaler.block(name, i, v[keep])
                    for i, v in enumerate(head(hidden, coefficients))
                ]
                per_atom = self.per_atom[name] or outputs[name].sample_kind == "atom"
                prediction = tensor_output(
                    values,
                    self.spherical_keys[name],
                    (system, atom, n_systems, per_atom),
                    self.property_names[name],
                )
                if name in baseline:
                    prediction = add_invariant_baseline(prediction, baseline[name])
                results[name] = prediction

    def _hidden(
        self, species: torch.Tensor, features: torch.Tensor
    ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        """The element networks' outputs, one chunk per element, and the order of
        the atoms in them (sorted by element, so that each element's chunk is
        contiguous)."""
        order = torch.argsort(species, stable=True)
        counts = torch.bincount(species, minlength=self.n_types)
        sizes: List[int] = counts.tolist()
        chunks = list(torch.split(features.index_select(0, order), sizes))
        return self.bpnn(chunks), order

    def _with_long_range(
        self, systems: List[System], hidden: List[torch.Tensor], order: torch.Tensor
    ) -> List[torch.Tensor]:
        """``hidden`` (each element's chunk, atoms in ``order``) plus the long-range
        features of every atom."""
        ordered = torch.cat(hidden)
        features = torch.zeros_like(ordered).index_copy(0, order, ordered)
        extra = self.long_range(systems, features).index_select(0, order)
        sizes: List[int] = [chunk.shape[0] for chunk in hidden]
        parts = torch.split(extra, sizes)
        return [chunk + part for chunk, part in zip(hidden, parts)]

    def descriptor(self, systems: List[System]) -> torch.Tensor:
        """The SOAP power spectrum of every atom of ``systems`` (stacked in order),
        ``[n_atoms, n_features]``; the systems need this model's neighbour list."""
        species, _, _, centers, neighbors, vectors = stack_systems(
            systems, self.neighbors, self.type_index
        )
        coefficients = self.expansion(
            vectors, centers, species.index_select(0, neighbors), species.shape[0]
        )
        return self.power_spectrum(coefficients)

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        outputs = {n: i.model_output() for n, i in self.dataset_info.targets.items()}
        outputs["feature"] = ModelOutput(
            sample_kind="atom", description="outputs of the per-element networks"
        )
        for name in self.dataset_info.targets:
            outputs[last_layer_features_name(name)] = ModelOutput(
                sample_kind="atom",
                description=f"last-layer features of the '{name}' head",
            )
        return outputs

    def restart(self, dataset_info: DatasetInfo) -> "SoapBpnn":
        """Add heads (and baseline entries) for the new targets of ``dataset_info``;
        new atomic types cannot be added (they change the descriptor)."""
        check_targets(dataset_info, int(self.hypers["soap"]["max_angular"]))
        new_types = self.dataset_info.new_atomic_types(dataset_info)
        if new_types:
            raise NewAtomicTypesError(new_types, self.dataset_info.atomic_types)
        merged = self.dataset_info.union(dataset_info)
        device = self.type_index.device
        dtype = self.dtype()
        for name in self.dataset_info.new_targets(dataset_info):
            self._add_target(name, merged.targets[name])
            self.head_modules()[name].to(device=device, dtype=dtype)
            if name in tensor_targets(merged):
                self.output_scaler.add_target(name, merged.targets[name])
        self.composition_baseline = self.composition_baseline.extended(
            merged.atomic_types, merged.targets
        )
        self.dataset_info = merged
        return self

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> "SoapBpnn":
        """The live weights to restart; the best (EMA when used) weights to fine-tune
        or export."""
        return build_from_checkpoint(cls, checkpoint, context)

    def get_checkpoint(self) -> Dict[str, Any]:
        return checkpoint_of(self, ARCHITECTURE_NAME)

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "model", cls.__checkpoint_version__, MODEL_UPGRADES)

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        """A metatomic model of every target, interaction range = the cutoff (or
        ZBL's range, if longer; everything with ``long_range``), in the dtype the
        model was last moved to."""
        lists = [options.cutoff for options in self.requested_neighbor_lists()]
        reach = math.inf if self.long_range_enabled else max(lists)
        return export_model(self, reach, metadata)
