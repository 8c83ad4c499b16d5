"""Writing predictions: extxyz (per-structure values in ``info``, per-atom ones in
``arrays``, forces/stress/virial from the gradients) or metatensor ``.mts`` files."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple

import ase
import ase.io
import metatensor.torch as mts
import torch
from metatensor.torch import TensorMap

from ..errors import UserError
from ..files import atomic_output
from .evaluate import Evaluation

#: What the names of labels end with, beside the predictions of the same quantity
#: (``energy_label`` beside ``energy``, ``forces_label`` beside ``forces``).
LABEL_SUFFIX = "_label"


def prediction_frames(evaluation: Evaluation) -> List[ase.Atoms]:
    """One ASE ``Atoms`` per evaluated structure, holding its predictions and, for
    labelled targets, the labels beside them (``<name>_label``), in the order of the
    dataset (batches are packed in another order)."""
    frames: List[Tuple[int, ase.Atoms]] = []
    for batch, predictions in zip(evaluation.batches, evaluation.predictions):
        for s, system in enumerate(batch.systems):
            atoms = ase.Atoms(
                numbers=system.types.numpy(),
                positions=system.positions.detach().to(torch.float64).numpy(),
                cell=system.cell.detach().to(torch.float64).numpy(),
                pbc=system.pbc.numpy(),
            )
            for name, tensor in predictions.items():
                _store(atoms, name, tensor, s)
                if name in batch.targets and len(batch.targets[name]) > 0:
                    _store(atoms, name, batch.targets[name], s, LABEL_SUFFIX)
            frames.append((int(batch.indices[s]), atoms))
    return [atoms for _, atoms in sorted(frames, key=lambda frame: frame[0])]


def _store(
    atoms: ase.Atoms, name: str, tensor: TensorMap, system: int, label: str = ""
) -> None:
    """Store the values of ``system`` in ``tensor`` (and its forces, virial and
    stress) on ``atoms``, under names ending with ``label``."""
    key = value_key(name)
    for block_index in range(len(tensor)):
        block = tensor.block(block_index)
        systems = block.samples.column("system")
        rows = torch.nonzero(systems == system).reshape(-1)
        values = block.values[rows].detach().to(torch.float64).numpy()
        suffix = ("" if len(tensor) == 1 else f"_{block_index}") + label
        if "atom" in block.samples.names:
            atoms.arrays[key + suffix] = values.reshape(len(atoms), -1)
        else:
            flat = values.reshape(-1)
            atoms.info[key + suffix] = float(flat[0]) if flat.size == 1 else flat
        if "positions" in block.gradients_list():
            gradient = block.gradient("positions")
            mine = gradient.samples.column("system") == system
            atoms.arrays[gradient_key(key, "forces") + label] = (
                -gradient.values[mine][..., 0].detach().to(torch.float64).numpy()
            )
        if "strain" in block.gradients_list() and atoms.pbc.all():
            gradient = block.gradient("strain")
            sample = int(torch.nonzero(systems == system)[0])
            strain = gradient.values[sample, ..., 0].detach().to(torch.float64).numpy()
            atoms.info[gradient_key(key, "virial") + label] = -strain
            atoms.info[gradient_key(key, "stress") + label] = (
                strain / atoms.get_volume()
            )


def value_key(target: str) -> str:
    """The name of the values of ``target`` in a predictions file: ``energy``,
    ``mtt_dipole`` for ``mtt::dipole``, ``energy_pbe`` for ``energy/pbe``."""
    return target.replace("::", "_").replace("/", "_")


def gradient_key(target: str, quantity: str) -> str:
    """``forces`` for the energy, ``energy_pbe_forces`` for a variant, etc."""
    return quantity if target == "energy" else f"{target}_{quantity}"


def prediction_paths(path: Path, targets: Sequence[str]) -> List[Path]:
    """The files :func:`write_predictions` writes for ``targets``: ``path`` itself
    (``.xyz``/``.extxyz``), or ``<stem>_<target>.mts`` per target (``.mts``)."""
    if path.suffix == ".mts":
        return [
            path.with_name(f"{path.stem}_{name.replace('::', '_')}.mts")
            for name in targets
        ]
    if path.suffix not in (".xyz", ".extxyz"):
        raise UserError(
            f"cannot write predictions to '{path}': use a .xyz, .extxyz or .mts file"
        )
    return [path]


def write_predictions(evaluation: Evaluation, path: Path) -> List[Path]:
    """Write predictions to ``path`` (``.xyz``/``.extxyz``: one file; ``.mts``: one
    file per target, ``<stem>_<target>.mts``), each atomically. Returns the files
    written."""
    names = list(evaluation.predictions[0]) if evaluation.predictions else []
    targets = prediction_paths(path, names)
    if path.suffix != ".mts":
        with atomic_output(path, "-o") as temporary:
            ase.io.write(temporary, prediction_frames(evaluation), format="extxyz")
        return targets
    for name, target in zip(names, targets):
        tensors = _renumbered(
            [p[name] for p in evaluation.predictions],
            [batch.indices for batch in evaluation.batches],
        )
        joined = mts.join(tensors, axis="samples")
        with atomic_output(target, "-o") as temporary:
            mts.save(str(temporary), joined.to(torch.float64))
    return targets


def _renumbered(
    tensors: List[TensorMap], indices: List[torch.Tensor]
) -> List[TensorMap]:
    """Batch-local ``system`` sample numbers replaced by the dataset indices of the
    structures (``indices[b]`` for the tensor of batch ``b``)."""
    result = []
    for tensor, dataset_indices in zip(tensors, indices):
        blocks = []
        for block in tensor.blocks():
            values = block.samples.values.clone()
            column = block.samples.names.index("system")
            values[:, column] = dataset_indices.to(values)[values[:, column]]
            new = mts.TensorBlock(
                values=block.values.detach(),
                samples=mts.Labels(block.samples.names, values),
                components=block.components,
                properties=block.properties,
            )
            blocks.append(new)
        result.append(TensorMap(tensor.keys, blocks))
    return result
