"""Per-target heads, output tensors, and the checks of what the model can represent."""

from typing import List, Optional, Tuple

import torch
from metatensor.torch import Labels, TensorMap

from atomtrain.data.info import DatasetInfo
from atomtrain.errors import OptionsError, Problem, UserError, did_you_mean
from atomtrain.modules.atom_outputs import (
    atom_samples,
    reduce_atoms,
    single_block_map,
    spherical_map,
)
from atomtrain.modules.equivariant import basis_size

from .documentation import ModelHypers
from .networks import PerElement, PerElementLinear, element_network


class UnsupportedTargetError(UserError):
    """A target SOAP-BPNN cannot represent."""


class NewAtomicTypesError(UserError):
    """Atomic types a trained SOAP-BPNN model cannot be extended to."""

    def __init__(self, new_types: List[int], known_types: List[int]) -> None:
        super().__init__(
            f"the training data has atomic types {new_types} that this SOAP-BPNN model "
            f"was not built for (it knows {known_types}): the descriptor has one "
            "channel per type, so a model cannot gain types; train a new model"
        )


def check_targets(dataset_info: DatasetInfo, max_angular: int) -> None:
    """Refuse every target SOAP-BPNN cannot represent, naming all at once: Cartesian
    targets of rank above 2, and the irreps of spherical targets that no coupling
    of the density coefficients up to ``max_angular`` gives (see
    :mod:`.equivariant`)."""
    refused: List[str] = []
    for name, info in dataset_info.targets.items():
        if info.kind == "cartesian" and info.rank > 2:
            refused.append(f"'{name}' (cartesian rank {info.rank})")
        elif info.kind == "spherical":
            missing = [
                f"o3_lambda={lam}, o3_sigma={sigma}"
                for lam, sigma in info.irreps
                if basis_size([1] * (max_angular + 1), 1, lam, sigma) == 0
            ]
            if missing:
                refused.append(f"'{name}' (irreps {'; '.join(missing)})")
    if refused:
        raise UnsupportedTargetError(
            "the soap_bpnn architecture models invariant scalars, Cartesian "
            "vectors and rank-2 tensors, and spherical targets (per structure or "
            "per atom) whose irreps its density coefficients can couple to; it "
            f"cannot model {', '.join(refused)}. "
            "A pseudoscalar (o3_lambda=0, o3_sigma=-1) has no coupling of two "
            "densities, and o3_lambda above 2 * soap.max_angular none at all"
        )


def check_hypers(hypers: ModelHypers, dataset_info: DatasetInfo) -> None:
    """Problems the types of the hypers cannot express, all reported at once."""
    problems: List[Problem] = []
    where = "architecture.model."
    cutoff = hypers["soap"]["cutoff"]
    if not cutoff["radius"] > 0:
        problems.append(
            Problem(where + "soap.cutoff.radius", "must be positive", cutoff["radius"])
        )
    if not 0 < cutoff["width"] <= cutoff["radius"]:
        problems.append(
            Problem(
                where + "soap.cutoff.width",
                f"must be positive and at most the radius ({cutoff['radius']})",
                cutoff["width"],
            )
        )
    for key in ("max_angular", "max_radial"):
        if hypers["soap"][key] < 0:
            value = hypers["soap"][key]
            problems.append(Problem(where + "soap." + key, "must be ≥ 0", value))
    bpnn = hypers["bpnn"]
    if bpnn["num_hidden_layers"] < 0:
        problems.append(
            Problem(
                where + "bpnn.num_hidden_layers",
                "must be ≥ 0",
                bpnn["num_hidden_layers"],
            )
        )
    if bpnn["num_neurons_per_layer"] < 1:
        problems.append(
            Problem(
                where + "bpnn.num_neurons_per_layer",
                "must be ≥ 1",
                bpnn["num_neurons_per_layer"],
            )
        )
    targets = list(dataset_info.targets)
    for name in hypers["heads"]:
        if name not in targets:
            problems.append(
                Problem(
                    where + "heads." + name,
                    "is not a target of the training set" + did_you_mean(name, targets),
                )
            )
    if problems:
        raise OptionsError(problems)


class TargetHead(torch.nn.Module):
    """The head of one target: an optional per-element hidden layer (``mlp``), then
    a per-element linear last layer."""

    def __init__(self, n_elements: int, width: int, n_properties: int, mlp: bool):
        super().__init__()
        self.hidden = PerElement(
            [
                element_network(width, 1 if mlp else 0, width, False)
                for _ in range(n_elements)
            ]
        )
        self.last = PerElementLinear(n_elements, width, n_properties)

    def last_layer_features(self, chunks: List[torch.Tensor]) -> List[torch.Tensor]:
        return self.hidden(chunks)

    def last_layer(self, features: List[torch.Tensor]) -> torch.Tensor:
        """The atomic values of the target, element-sorted ``[n_atoms, P]``."""
        return torch.cat(self.last(features))

    def padded(self, features: List[torch.Tensor]) -> torch.Tensor:
        """The last-layer features ``[n_atoms, n_elements * width]``."""
        return torch.cat(self.last.padded_features(features))


def atomic_tensor(
    values: torch.Tensor,
    system: torch.Tensor,
    atom: torch.Tensor,
    n_systems: int,
    per_atom: bool,
    property_name: str,
    baseline: Optional[torch.Tensor],
) -> TensorMap:
    """Atomic ``values [n, P]`` of atoms ``(system, atom)`` as a single-block
    TensorMap: per atom with samples sorted by ``(system, atom)``, or summed per
    structure; ``baseline`` (same layout) is added when given."""
    values, samples = _gathered(values, system, atom, n_systems, per_atom)
    if baseline is not None:
        values = values + baseline
    return single_block_map(values, samples, [], property_name)


def spherical_tensor(
    values: List[torch.Tensor],
    keys: Labels,
    system: torch.Tensor,
    atom: torch.Tensor,
    n_systems: int,
    per_atom: bool,
    property_name: str,
) -> TensorMap:
    """Atomic ``values`` of a spherical target, one ``[n, 2λ + 1, P]`` tensor per
    key ``(o3_lambda, o3_sigma)``, per atom or summed per structure as in
    :func:`atomic_tensor`."""
    blocks: List[torch.Tensor] = []
    samples = Labels(["system"], torch.zeros((0, 1), dtype=torch.int32))
    for block_values in values:
        gathered, samples = _gathered(block_values, system, atom, n_systems, per_atom)
        blocks.append(gathered)
    return spherical_map(blocks, keys, samples, property_name)


def tensor_output(
    values: List[torch.Tensor],
    keys: Labels,
    samples: Tuple[torch.Tensor, torch.Tensor, int, bool],
    property_name: str,
) -> TensorMap:
    """The TensorMap of a tensor target: :func:`spherical_tensor` for ``keys``
    ``(o3_lambda, o3_sigma)``, :func:`cartesian_tensor` of ``values[0]`` otherwise;
    ``samples``: the system and atom of each value, the number of systems and
    whether the target is per atom."""
    system, atom, n_systems, per_atom = samples
    if "o3_lambda" not in keys.names:
        return cartesian_tensor(
            values[0], system, atom, n_systems, per_atom, property_name
        )
    return spherical_tensor(
        values, keys, system, atom, n_systems, per_atom, property_name
    )


def cartesian_tensor(
    values: torch.Tensor,
    system: torch.Tensor,
    atom: torch.Tensor,
    n_systems: int,
    per_atom: bool,
    property_name: str,
) -> TensorMap:
    """Atomic Cartesian ``values [n, 3, P]`` (rank 1, components ``xyz``) or
    ``[n, 3, 3, P]`` (rank 2, ``xyz_1``, ``xyz_2``), per atom or summed per structure
    as in :func:`atomic_tensor`."""
    gathered, samples = _gathered(values, system, atom, n_systems, per_atom)
    names = ["xyz"] if values.dim() == 3 else ["xyz_1", "xyz_2"]
    return single_block_map(gathered, samples, names, property_name)


def _gathered(
    values: torch.Tensor,
    system: torch.Tensor,
    atom: torch.Tensor,
    n_systems: int,
    per_atom: bool,
) -> Tuple[torch.Tensor, Labels]:
    """``values`` (atoms first, element-sorted) in system-major atom order with their
    samples, or summed per structure."""
    if per_atom:
        # back to system-major order, the order of the baseline and of the engines
        stride = int(atom.max()) + 1 if atom.numel() else 1
        order = torch.argsort(system * stride + atom)
        system, atom, values = system[order], atom[order], values.index_select(0, order)
    reduced = reduce_atoms(values, system, n_systems, per_atom)
    return reduced, atom_samples(system, atom, n_systems, per_atom)
