"""The PET model: the :class:`~atomtrain.pet.encoder.Encoder`, one head per target,
the composition baseline, and the plugin contract (checkpoints, restart, export)."""

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

from atomtrain.architectures.restart import add_new_targets, refuse_new_atomic_types
from atomtrain.checkpoints import upgrade
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import UserError
from atomtrain.modules.atom_outputs import (
    atom_indices,
    atom_samples,
    features_map,
    reduce_atoms,
    single_block_map,
    spherical_map,
)
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.modules.invariant_parts import add_invariant_baseline, isotropic
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

from .conditioning import SystemConditioning
from .documentation import ModelHypers
from .encoder import build_encoder
from .neighbors import batch_edges
from .targets import UnsupportedTargetError, build_head, check_targets
from .upgrades import MODEL_UPGRADES

ARCHITECTURE_NAME = "pet"


class PET(
    ModelInterface[ModelHypers],
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
    WithOutputScaler,
):
    """Point-Edge Transformer for energies, forces, stresses and generic targets."""

    __checkpoint_version__ = 10
    __supported_devices__ = ["cuda", "cpu"]
    __supported_dtypes__ = [torch.float32, torch.float64]
    __default_metadata__ = ModelMetadata(
        name="pet",
        description="Point-Edge Transformer",
        references={
            "implementation": [],
            "architecture": ["https://arxiv.org/abs/2305.19302"],
        },
    )
    __jit_ignored_attributes__ = ["hypers", "dataset_info"]

    type_to_index: torch.Tensor
    spherical_keys: Dict[str, Labels]
    per_atom: Dict[str, bool]
    property_names: Dict[str, str]
    component_names: Dict[str, List[str]]
    num_properties: Dict[str, int]
    llf_names: Dict[str, str]

    def __init__(
        self,
        hypers: ModelHypers,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        check_targets(dataset_info.targets)
        if int(hypers["d_pet"]) % int(hypers["num_heads"]) != 0:
            raise UserError(
                f"architecture.model.d_pet ({hypers['d_pet']}) must be divisible by "
                f"architecture.model.num_heads ({hypers['num_heads']})"
            )
        super().__init__(hypers, dataset_info, metadata)
        types = list(dataset_info.atomic_types)
        lookup = torch.full((max(types, default=0) + 1,), -1, dtype=torch.long)
        lookup[types] = torch.arange(len(types))
        self.register_buffer("type_to_index", lookup, persistent=False)
        self.cutoff = float(hypers["cutoff"])
        self.num_gnn_layers = int(hypers["num_gnn_layers"])
        self.encoder = build_encoder(hypers, len(types))
        # the layers the heads read: every one, or the last for ``feedforward``
        self.readout_layers = (
            1 if hypers["featurizer_type"] == "feedforward" else self.num_gnn_layers
        )
        self.conditioning = SystemConditioning(
            bool(hypers["system_conditioning"]),
            int(hypers["max_charge"]),
            int(hypers["max_spin_multiplicity"]),
            int(hypers["d_node"]),
            self.num_gnn_layers,
        )
        self.long_range_enabled = bool(hypers["long_range"]["enable"])
        d_node = int(hypers["d_node"])
        self.long_range = build_long_range(
            hypers["long_range"], self.cutoff, d_node, d_node
        )
        self.heads = torch.nn.ModuleDict()
        self.spherical_heads = torch.nn.ModuleDict()
        self.spherical_keys = {}
        self.per_atom = {}
        self.property_names = {}
        self.component_names = {}
        self.num_properties = {}
        self.llf_names = {}
        self.zbl = EnergyRepulsion(bool(hypers["zbl"]), types, dataset_info.length_unit)
        for name, info in dataset_info.targets.items():
            self._add_head(name, info)
        self.output_scaler = OutputScaler(dataset_info.targets)
        self.composition_baseline = CompositionBaseline(types, dataset_info.targets)
        self.neighbors = NeighborListOptions(self.cutoff, full_list=True, strict=True)

    def _add_head(self, name: str, info: TargetInfo) -> None:
        head = build_head(info, self.hypers, self.readout_layers)
        self.per_atom[name] = info.per_atom
        self.property_names[name] = info.property_name(name)
        if info.kind == "spherical":
            self.spherical_heads[name] = head
            self.spherical_keys[name] = info.keys()
            return
        self.heads[name] = head
        self.component_names[name] = [
            labels.names[0] for labels in info.block_components()[0]
        ]
        self.num_properties[name] = info.num_subtargets
        self.llf_names[name] = last_layer_features_name(name)
        self.zbl.add_target(name, info.is_energy, info.unit)

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
        results: Dict[str, TensorMap] = {}
        if len(systems) == 0:
            return results
        vectors, centers, neighbors, shifts = batch_edges(systems, self.neighbors)
        species = self.type_to_index[torch.cat([s.types for s in systems]).long()]
        # the fused attention kernel has no double backward: training on forces
        # differentiates the forces again, through the written-out attention
        fused = not (self.training and vectors.requires_grad)
        conditioning = self.conditioning(systems)
        nodes, edges, cutoff_weights = self.encoder(
            vectors, centers, neighbors, shifts, species, fused, conditioning
        )
        nodes = self._with_long_range(systems, nodes)
        system, atom, keep = atom_indices(systems, selected_atoms, vectors.device)
        n_systems = len(systems)
        baseline = self.composition_baseline(systems, outputs, selected_atoms)
        repulsion = self.zbl(systems, outputs, keep)
        # a ModuleDict is unrolled by TorchScript: no `continue` in this loop
        for name, head in self.heads.items():
            llf_name = self.llf_names[name]
            if name in outputs or llf_name in outputs:
                features = head.last_layer_features(  # type: ignore[operator]
                    nodes, edges, cutoff_weights, centers
                ).index_select(0, keep)
                if llf_name in outputs:
                    per_atom = outputs[llf_name].sample_kind == "atom"
                    results[llf_name] = features_map(
                        features, system, atom, n_systems, per_atom
                    )
                if name in outputs:
                    kind = outputs[name].sample_kind
                    per_atom = self.per_atom[name] or kind == "atom"
                    atomic = head.values(  # type: ignore[operator]
                        features, nodes, edges, cutoff_weights, centers, vectors, keep
                    )
                    values = self._target_values(
                        name, atomic, repulsion, baseline, system, n_systems, per_atom
                    )
                    results[name] = single_block_map(
                        values,
                        atom_samples(system, atom, n_systems, per_atom),
                        self.component_names[name],
                        self.property_names[name],
                    )
        encoded = (nodes, edges, cutoff_weights, centers, vectors)
        if len(self.spherical_heads) > 0:
            samples = (system, atom, keep)
            self._spherical(results, outputs, encoded, samples, n_systems, baseline)
        if "feature" in outputs:
            per_atom = outputs["feature"].sample_kind == "atom"
            kept = self._features(nodes, edges, cutoff_weights, centers, keep)
            results["feature"] = features_map(kept, system, atom, n_systems, per_atom)
        return results

    def _with_long_range(
        self, systems: List[System], nodes: List[torch.Tensor]
    ) -> List[torch.Tensor]:
        """The node features of every layer plus, with ``long_range``, the
        electrostatic features computed from the last layer's."""
        if not self.long_range_enabled:
            return nodes
        electrostatics = self.long_range(systems, nodes[-1])
        return [layer + electrostatics for layer in nodes]

    def _spherical(
        self,
        results: Dict[str, TensorMap],
        outputs: Dict[str, ModelOutput],
        features: Tuple[
            List[torch.Tensor],
            List[torch.Tensor],
            torch.Tensor,
            torch.Tensor,
            torch.Tensor,
        ],
        samples: Tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        n_systems: int,
        baseline: Dict[str, TensorMap],
    ) -> None:
        """Add the spherical targets asked for in ``outputs`` to ``results``, with
        the ``baseline`` of their ``(0, 1)`` block; ``features``: the nodes, edges,
        cutoff weights, centres and vectors of the encoder; ``samples``: the system
        and atom of each output atom and its row."""
        nodes, edges, cutoff_weights, centers, vectors = features
        system, atom, keep = samples
        for name, head in self.spherical_heads.items():
            if name in outputs:
                per_atom = self.per_atom[name] or outputs[name].sample_kind == "atom"
                blocks: List[torch.Tensor] = []
                outputs_of_head = head(nodes, edges, cutoff_weights, centers, vectors)
                for index, values in enumerate(outputs_of_head):
                    values = values.index_select(0, keep)
                    values = self.output_scaler.block(name, index, values)
                    blocks.append(reduce_atoms(values, system, n_systems, per_atom))
                results[name] = spherical_map(
                    blocks,
                    self.spherical_keys[name],
                    atom_samples(system, atom, n_systems, per_atom),
                    self.property_names[name],
                )
                if name in baseline:
                    prediction = results[name]
                    results[name] = add_invariant_baseline(prediction, baseline[name])

    def _target_values(
        self,
        name: str,
        values: torch.Tensor,
        repulsion: torch.Tensor,
        baseline: Dict[str, TensorMap],
        system: torch.Tensor,
        n_systems: int,
        per_atom: bool,
    ) -> torch.Tensor:
        """The head's per-atom ``values`` ``[n, 3^rank · n_properties]`` in the
        target's shape, scaled, plus the ZBL ``repulsion`` (eV, in the target's
        unit) for energies, summed per system unless ``per_atom``, plus the
        composition ``baseline`` when it has the target."""
        shape = [values.shape[0]]
        shape += [3] * len(self.component_names[name])
        shape.append(self.num_properties[name])
        values = self.output_scaler(name, values.reshape(shape))
        values = self.zbl.add(name, values, repulsion)
        values = reduce_atoms(values, system, n_systems, per_atom)
        if name in baseline:
            extra = baseline[name].block().values
            # a rank-2 tensor's baseline is its isotropic part
            values = values + (isotropic(extra) if values.dim() == 4 else extra)
        return values

    def _features(
        self,
        nodes: List[torch.Tensor],
        edges: List[torch.Tensor],
        cutoff_weights: torch.Tensor,
        centers: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        """``[n_kept, num_gnn_layers · (d_node + d_pet)]``: the node features of every
        layer, then the cutoff-weighted sums of its edge tokens, of the kept atoms."""
        summed: List[torch.Tensor] = []
        weights = cutoff_weights.unsqueeze(1)
        for layer_edges in edges:
            total = layer_edges.new_zeros((nodes[0].shape[0], layer_edges.shape[1]))
            summed.append(total.index_add(0, centers, layer_edges * weights))
        return torch.cat(nodes + summed, dim=1).index_select(0, keep)

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        outputs = {n: i.model_output() for n, i in self.dataset_info.targets.items()}
        for name in self.heads:
            outputs[last_layer_features_name(name)] = ModelOutput(
                sample_kind="atom",
                description=f"input of the last linear layer of the '{name}' head",
            )
        outputs["feature"] = ModelOutput(
            sample_kind="atom", description="PET per-atom features of every layer"
        )
        return outputs

    def restart(self, dataset_info: DatasetInfo) -> "PET":
        """Add heads (and baselines) for the new targets and variants of
        ``dataset_info``; new atomic types cannot be added to trained embeddings."""
        refuse_new_atomic_types(
            self.dataset_info, dataset_info, "this PET model", UnsupportedTargetError
        )
        check_targets(dataset_info.targets)
        add_new_targets(self, dataset_info, self._add_head)
        return self

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> "PET":
        """The live weights to restart; the best (or EMA) ones to fine-tune and
        export."""
        return build_from_checkpoint(cls, checkpoint, context)

    def get_checkpoint(self) -> Dict[str, Any]:
        return checkpoint_of(self, ARCHITECTURE_NAME)

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(
            checkpoint,
            "model",
            cls.__checkpoint_version__,
            MODEL_UPGRADES,
        )

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        """A metatomic model of every target and feature output, seeing
        ``num_gnn_layers`` times ``cutoff`` around each atom (or ZBL's range, if
        longer; everything with ``long_range``), in the model's current dtype."""
        lists = [options.cutoff for options in self.requested_neighbor_lists()]
        reach = max([self.num_gnn_layers * self.cutoff, *lists])
        return export_model(
            self, math.inf if self.long_range_enabled else reach, metadata
        )
