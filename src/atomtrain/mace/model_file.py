"""MACE model files (``.model``, written by ``mace_run_train``; foundation models) as
atomtrain MACE models.

A ``.model`` file is a pickle of a whole ``ScaleShiftMACE`` object: reading it runs
code, so it is read only on the user's word (``trust_pickled_code``, checked by
:mod:`atomtrain.finetune.prepare`) and once, to be converted here into an atomtrain
model, whose checkpoint is plain data:

- the hypers come from mace-torch's own ``extract_config_mace_model``;
- the weights of the embedding, interaction, product and ZBL blocks load by name;
- each head ``h`` becomes an energy target in eV (``energy`` for a single head or the
  head named ``Default``, ``energy/<h>`` otherwise) with its own readout: the weights
  of head ``h`` are taken from the shared multi-head readout (columns of the first
  linear maps, rows and column of the last one, rescaled for e3nn's normalisation
  by the number of inputs);
- each head's ``E0s`` plus its shift become the composition baseline of its target,
  its scale the target's output scale.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Type

import torch

from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import UserError

from .dependencies import modules, o3, quiet_construction, scripts_utils
from .documentation import ModelHypers

if TYPE_CHECKING:
    # the model class is passed in: MACE.read_foreign_model imports this module
    from .model import MACE

#: The energy of a MACE head: eV, with forces and stress by autograd.
HEAD_ENERGY = TargetInfo(
    quantity="energy", unit="eV", gradients=("positions", "strain")
)

#: Blocks of mace-torch's models that atomtrain's encoder holds under the same names.
ENCODER_BLOCKS = ("node_embedding", "radial_embedding", "interactions", "products")

#: State of a ScaleShiftMACE that the conversion reads otherwise, or rebuilds.
CONVERTED_ELSEWHERE = ("atomic_energies_fn.", "scale_shift.", "readouts.")
REBUILT = ("atomic_numbers", "r_max", "num_interactions")


class ModelFileError(UserError):
    """A MACE model file that cannot be read or converted."""


def _load(path: Path) -> Any:
    try:
        with quiet_construction():
            model = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # any exception of the unpickled code
        raise ModelFileError(
            f"'{path}' could not be read as a MACE model file with the installed "
            f"mace-torch ({type(error).__name__}: {error})"
        ) from None
    if type(model) is not modules.ScaleShiftMACE:
        raise ModelFileError(
            f"'{path}' holds a {type(model).__name__}; atomtrain reads MACE energy "
            "models (ScaleShiftMACE, what mace_run_train writes and the foundation "
            "models are)"
        )
    return model


def _check_supported(config: Dict[str, Any], path: Path) -> None:
    """Refuse the options of mace-torch that atomtrain's MACE does not build."""
    unsupported = []
    for key in ("use_so3", "use_agnostic_product", "use_last_readout_only"):
        if config.get(key):
            unsupported.append(key)
    for key in ("use_embedding_readout", "edge_irreps", "embedding_specs"):
        if config.get(key):
            unsupported.append(key)
    # MACE's own default: configurations written before the key existed apply it
    if not config.get("apply_cutoff", True):
        unsupported.append("apply_cutoff: false")
    cueq = config.get("cueq_config")
    if cueq is not None and getattr(cueq, "enabled", True):
        unsupported.append("cuequivariance layout (convert it back with mace-torch)")
    if config.get("distance_transform") not in (None, "None", "Agnesi", "Soft"):
        unsupported.append(f"distance transform {config['distance_transform']}")
    if config["radial_type"] not in ("bessel", "gaussian", "chebyshev"):
        unsupported.append(f"radial basis {config['radial_type']}")
    interactions = {config["interaction_cls"], config["interaction_cls_first"]}
    for interaction in interactions - set(modules.interaction_classes.values()):
        unsupported.append(f"interaction {interaction.__name__}")
    if config["readout_cls"] is not modules.NonLinearReadoutBlock:
        unsupported.append(f"readout {config['readout_cls'].__name__}")
    gates = [name for name, gate in modules.gate_dict.items() if gate is config["gate"]]
    if not gates:
        unsupported.append(f"gate {config['gate']}")
    if unsupported:
        raise ModelFileError(
            f"the MACE model in '{path}' uses {', '.join(unsupported)}, which "
            "atomtrain's mace architecture does not build"
        )


def _hypers(config: Dict[str, Any]) -> ModelHypers:
    gate = next(name for name, g in modules.gate_dict.items() if g is config["gate"])
    transform = config.get("distance_transform") or "None"
    return ModelHypers(
        r_max=float(config["r_max"]),
        num_radial_basis=int(config["num_bessel"]),
        num_cutoff_basis=int(config["num_polynomial_cutoff"]),
        radial_type=config["radial_type"],
        distance_transform=transform,  # type: ignore[typeddict-item]
        max_ell=int(config["max_ell"]),
        correlation=int(config["correlation"]),
        num_interactions=int(config["num_interactions"]),
        hidden_irreps=str(config["hidden_irreps"]),
        MLP_irreps=str(config["MLP_irreps"]),
        radial_MLP=[int(width) for width in config["radial_MLP"]],
        interaction_cls=config["interaction_cls"].__name__,
        interaction_cls_first=config["interaction_cls_first"].__name__,
        gate=gate,
        avg_num_neighbors=float(config["avg_num_neighbors"]),
        use_reduced_cg=bool(config["use_reduced_cg"]),
        pair_repulsion=bool(config["pair_repulsion"]),
    )


def target_names(heads: List[str]) -> Dict[str, str]:
    """The atomtrain target of each MACE head."""
    if len(heads) == 1:
        return {heads[0]: "energy"}
    return {
        head: "energy" if head.lower() == "default" else f"energy/{head}"
        for head in heads
    }


def _copy_linear(
    source: Any, target: Any, rows: slice, column: slice, normalisation: bool
) -> None:
    """Copy the block ``[rows, column]`` of each path of the e3nn linear map
    ``source`` into ``target``; with ``normalisation``, rescale for the different
    number of inputs e3nn divides by."""
    for theirs, ours in zip(source.weight_views(), target.weight_views()):
        block = theirs[rows, column]
        factor = math.sqrt(ours.shape[0] / theirs.shape[0]) if normalisation else 1.0
        ours.copy_(block * factor)


@torch.no_grad()
def _copy_readouts(foreign: Any, model: MACE, heads: List[str]) -> None:
    names = target_names(heads)
    count = len(heads)
    for index, head in enumerate(heads):
        readout = model.heads[names[head]]
        every = slice(None)
        own = slice(index, index + 1)
        for layer, ours in enumerate(readout.linear_readouts):  # type: ignore[arg-type]
            theirs = foreign.readouts[layer]
            _copy_linear(theirs.linear, ours.linear, every, own, False)
        for ours in readout.nonlinear_readouts:  # type: ignore[union-attr]
            theirs = foreign.readouts[-1]
            width = o3.Irreps(theirs.hidden_irreps).dim // count
            channels = slice(index * width, (index + 1) * width)
            _copy_linear(theirs.linear_1, ours.linear_1, every, channels, False)
            _copy_linear(theirs.linear_2, ours.linear_2, channels, own, True)


def _backbone_state(foreign: Any, model: MACE, path: Path) -> Dict[str, torch.Tensor]:
    """The model's state with the encoder's and ZBL's weights of ``foreign``."""
    state = model.state_dict()
    for name, value in foreign.state_dict().items():
        if name.startswith(CONVERTED_ELSEWHERE) or name in REBUILT:
            continue
        if name.startswith(ENCODER_BLOCKS):
            ours = f"encoder.{name}"
        elif name.startswith("pair_repulsion_fn."):
            ours = name.replace("pair_repulsion_fn.", "repulsion.0.", 1)
        else:
            ours = name
        if ours not in state or state[ours].shape != value.shape:
            raise ModelFileError(
                f"the MACE model in '{path}' has the weights '{name}' "
                f"{tuple(value.shape)} that atomtrain's mace architecture does not "
                "build the same way"
            )
        state[ours] = value
    return state


def _energies(foreign: Any, model: MACE, heads: List[str]) -> None:
    """E0s plus shift into the composition baseline, scales into the scaler."""
    count = len(heads)
    energies = foreign.atomic_energies_fn.atomic_energies.reshape(count, -1)
    scale = foreign.scale_shift.scale.reshape(-1).expand(count)
    shift = foreign.scale_shift.shift.reshape(-1).expand(count)
    names = target_names(heads)
    for index, head in enumerate(heads):
        weights = energies[index].to(torch.float64) + float(shift[index])
        model.composition_baseline.target_weights(names[head])[:, 0] = weights
        scales = torch.tensor([float(scale[index])], dtype=torch.float64)
        model.output_scaler.set_scales(names[head], scales)


def read_model_file(model_class: Type[MACE], path: Path) -> MACE:
    """The atomtrain MACE model of the MACE model file ``path`` (see the module
    docstring). Runs the code the pickle holds: call it on trusted files only."""
    foreign = _load(path)
    config = scripts_utils.extract_config_mace_model(foreign)
    _check_supported(config, path)
    atomic_numbers = [int(z) for z in config["atomic_numbers"]]
    if atomic_numbers != sorted(atomic_numbers):
        raise ModelFileError(
            f"the MACE model in '{path}' lists its elements out of order "
            f"({atomic_numbers})"
        )
    heads = [str(head) for head in config["heads"]]
    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=atomic_numbers,
        targets={name: HEAD_ENERGY for name in target_names(heads).values()},
    )
    dtype = next(foreign.parameters()).dtype
    model = model_class(_hypers(config), info).to(dtype)
    model.load_state_dict(_backbone_state(foreign, model, path))
    _copy_readouts(foreign, model, heads)
    _energies(foreign, model, heads)
    return model
