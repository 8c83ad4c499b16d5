"""The MACE model: mace-torch's message passing (:mod:`.encoder`), one readout per
target (:mod:`.heads`), the output scaler, the composition baseline, and the plugin
contract (checkpoints, restart, export)."""

import copy
from pathlib import Path
from typing import Any, Dict, List, Optional

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
from atomtrain.modules.atom_outputs import (
    atom_indices,
    atom_samples,
    features_map,
    reduce_atoms,
    single_block_map,
)
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.modules.scaling import OutputScaler
from atomtrain.modules.zbl import energy_conversion
from atomtrain.utils.abc import (
    ModelCheckpointContext,
    ModelInterface,
    ReadsForeignModels,
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
    WithOutputScaler,
)
from atomtrain.utils.model_io import build_from_checkpoint, checkpoint_of, export_model
from atomtrain.utils.outputs import last_layer_features_name

from .dependencies import jit, modules, quiet_construction
from .documentation import ModelHypers
from .encoder import Encoder, build_mace
from .graph import batch_graph
from .heads import ReadoutHead, scalar_columns
from .hypers import UnsupportedTargetError, check_hypers, check_targets

ARCHITECTURE_NAME = "mace"


class MACE(
    ModelInterface[ModelHypers],
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
    WithOutputScaler,
    ReadsForeignModels,
):
    """MACE for energies, forces, stresses and invariant scalar targets."""

    __checkpoint_version__ = 1
    __supported_devices__ = ["cuda", "cpu"]
    __supported_dtypes__ = [torch.float32, torch.float64]
    __default_metadata__ = ModelMetadata(
        name="mace",
        description="MACE, higher-order equivariant message passing",
        references={
            "implementation": ["https://github.com/ACEsuit/mace"],
            "architecture": ["https://arxiv.org/abs/2206.07697"],
        },
    )
    __jit_ignored_attributes__ = ["hypers", "dataset_info", "layer_irreps"]

    #: Fine-tuning can start from MACE model files (see :mod:`.model_file`).
    foreign_model_suffixes = (".model",)
    foreign_model_description = "a MACE model file"

    type_to_index: torch.Tensor
    feature_columns: torch.Tensor
    per_atom: Dict[str, bool]
    property_names: Dict[str, str]
    llf_names: Dict[str, str]
    repulsion_factors: Dict[str, float]

    def __init__(
        self,
        hypers: ModelHypers,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        check_targets(dataset_info.targets)
        check_hypers(hypers, dataset_info)
        super().__init__(hypers, dataset_info, metadata)
        types = list(dataset_info.atomic_types)
        lookup = torch.full((max(types, default=0) + 1,), -1, dtype=torch.long)
        lookup[types] = torch.arange(len(types))
        self.register_buffer("type_to_index", lookup, persistent=False)
        self.num_types = len(types)
        mace = build_mace(hypers, types)
        self.encoder = Encoder(mace, hypers["avg_num_neighbors"])
        self.layer_irreps = self.encoder.layer_irreps()
        self.register_buffer(
            "feature_columns", scalar_columns(self.layer_irreps), persistent=False
        )
        zbl = getattr(mace, "pair_repulsion_fn", None)
        self.repulsion = torch.nn.ModuleList([] if zbl is None else [zbl])
        self.heads = torch.nn.ModuleDict()
        self.per_atom = {}
        self.property_names = {}
        self.llf_names = {}
        self.repulsion_factors = {}
        for name, info in dataset_info.targets.items():
            self._add_head(name, info)
        # energies are scaled by the forces, as mace_run_train's rms_forces_scaling
        self.output_scaler = OutputScaler(dataset_info.targets, energy_scale="forces")
        self.composition_baseline = CompositionBaseline(types, dataset_info.targets)
        self.neighbors = NeighborListOptions(
            float(hypers["r_max"]), full_list=True, strict=True
        )

    def _add_head(self, name: str, info: TargetInfo) -> None:
        self.heads[name] = ReadoutHead(
            self.layer_irreps,
            self.hypers["MLP_irreps"],
            modules.gate_dict[self.hypers["gate"]],
            info.num_subtargets,
        )
        self.per_atom[name] = info.per_atom
        self.property_names[name] = info.property_name(name)
        self.llf_names[name] = last_layer_features_name(name)
        if len(self.repulsion) > 0 and info.is_energy:
            self.repulsion_factors[name] = energy_conversion(info.unit)

    def head_modules(self) -> Dict[str, torch.nn.Module]:
        """The readouts of each target (trained alone by ``finetune: heads``)."""
        return dict(self.heads.items())

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.neighbors]

    @torch.jit.unused
    def needs_avg_num_neighbors(self) -> bool:
        """Whether the number dividing the messages is still to be computed from
        the training data (``avg_num_neighbors: null``, and not computed yet)."""
        return bool(torch.isnan(self.encoder.avg_num_neighbors))

    @torch.jit.unused
    def set_avg_num_neighbors(self, value: float) -> None:
        """Divide the messages by ``value`` from now on (kept in the weights, and so
        in checkpoints)."""
        self.encoder.set_avg_num_neighbors(value)

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        results: Dict[str, TensorMap] = {}
        if len(systems) == 0:
            return results
        vectors, edge_index, node_attrs = batch_graph(
            systems, self.neighbors, self.type_to_index, self.num_types
        )
        features = self.encoder(vectors, edge_index, node_attrs)
        system, atom, keep = atom_indices(systems, selected_atoms, vectors.device)
        n_systems = len(systems)
        baseline = self.composition_baseline(systems, outputs, selected_atoms)
        repulsion = self._repulsion(vectors, node_attrs, edge_index)
        # a ModuleDict is unrolled by TorchScript: no `continue` in this loop
        for name, head in self.heads.items():
            llf_name = self.llf_names[name]
            if llf_name in outputs:
                per_atom = outputs[llf_name].sample_kind == "atom"
                llf = head.last_layer_features(features)  # type: ignore[operator]
                results[llf_name] = features_map(
                    llf.index_select(0, keep), system, atom, n_systems, per_atom
                )
            if name in outputs:
                values = head(features)
                if repulsion is not None and name in self.repulsion_factors:
                    factor = self.repulsion_factors[name]
                    values = values + factor * repulsion.reshape(-1, 1)
                values = self.output_scaler(name, values).index_select(0, keep)
                per_atom = self.per_atom[name] or outputs[name].sample_kind == "atom"
                values = reduce_atoms(values, system, n_systems, per_atom)
                if name in baseline:
                    values = values + baseline[name].block().values
                results[name] = single_block_map(
                    values,
                    atom_samples(system, atom, n_systems, per_atom),
                    [],
                    self.property_names[name],
                )
        if "feature" in outputs:
            per_atom = outputs["feature"].sample_kind == "atom"
            invariants = torch.cat(features, dim=1).index_select(
                1, self.feature_columns
            )
            results["feature"] = features_map(
                invariants.index_select(0, keep), system, atom, n_systems, per_atom
            )
        return results

    def _repulsion(
        self, vectors: torch.Tensor, node_attrs: torch.Tensor, edge_index: torch.Tensor
    ) -> Optional[torch.Tensor]:
        """mace-torch's ZBL pair repulsion of every atom (eV), when the model has
        it."""
        repulsion: Optional[torch.Tensor] = None
        for zbl in self.repulsion:
            lengths = torch.linalg.norm(vectors, dim=-1, keepdim=True)
            atomic_numbers = self.encoder.atomic_numbers
            repulsion = zbl(lengths, node_attrs, edge_index, atomic_numbers)
        return repulsion

    def supported_outputs(self) -> Dict[str, ModelOutput]:
        outputs = {n: i.model_output() for n, i in self.dataset_info.targets.items()}
        for name in self.dataset_info.targets:
            outputs[last_layer_features_name(name)] = ModelOutput(
                sample_kind="atom",
                description=f"inputs of the last linear maps of the '{name}' readout",
            )
        outputs["feature"] = ModelOutput(
            sample_kind="atom", description="MACE invariant features of every layer"
        )
        return outputs

    def restart(self, dataset_info: DatasetInfo) -> "MACE":
        """Add readouts (and baselines) for the new targets and variants of
        ``dataset_info``; new atomic types cannot be added to trained embeddings."""
        refuse_new_atomic_types(
            self.dataset_info, dataset_info, "this MACE model", UnsupportedTargetError
        )
        check_targets(dataset_info.targets)
        add_new_targets(self, dataset_info, self._add_head)
        return self

    @classmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> "MACE":
        """The live weights to restart; the best (or EMA) ones to fine-tune and
        export."""
        return build_from_checkpoint(cls, checkpoint, context)

    def get_checkpoint(self) -> Dict[str, Any]:
        return checkpoint_of(self, ARCHITECTURE_NAME)

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "model", cls.__checkpoint_version__, {})

    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        """A metatomic model of every target and feature output, seeing
        ``num_interactions`` times ``r_max`` around each atom, in the model's
        current dtype."""
        interaction_range = len(self.encoder.interactions) * self.neighbors.cutoff
        return export_model(self, interaction_range, metadata)

    @classmethod
    def checkpoint_from_foreign_model(cls, path: Path) -> Dict[str, Any]:
        """The checkpoint of the MACE model file ``path`` (read once: it is a pickle
        that runs code; see :mod:`.model_file`)."""
        from .model_file import read_model_file

        return read_model_file(cls, path).get_checkpoint()

    def __prepare_scriptable__(self) -> "MACE":
        """What TorchScript compiles in place of this model (in an exported model,
        or wrapped by another, as ``llpr`` does): a copy whose mace-torch modules
        were compiled the way e3nn requires (:func:`e3nn.util.jit.compile`: some of
        e3nn's modules are traced rather than scripted). This model stays as it
        is."""
        with quiet_construction():
            compiled: MACE = jit.compile(copy.deepcopy(self))
        return compiled
