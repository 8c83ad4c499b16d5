"""Writing predictions: extxyz (per-structure values in ``info``, per-atom ones in
``arrays``, forces/stress/virial from the gradients) or metatensor ``.mts`` files."""

from __future__ import annotations

from pathlib import Path
from typing import List

import ase
import ase.io
import metatensor.torch as mts
import torch
from metatensor.torch import TensorMap

from ..errors import UserError
from .evaluate import Evaluation


def prediction_frames(evaluation: Evaluation) -> List[ase.Atoms]:
    """One ASE ``Atoms`` per evaluated structure, holding its predictions."""
    frames = []
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
            frames.append(atoms)
    return frames


def _store(atoms: ase.Atoms, name: str, tensor: TensorMap, system: int) -> None:
    key = name.replace("::", "_").replace("/", "_")
    for block_index in range(len(tensor)):
        block = tensor.block(block_index)
        systems = block.samples.column("system")
        rows = torch.nonzero(systems == system).reshape(-1)
        values = block.values[rows].detach().numpy()
        suffix = "" if len(tensor) == 1 else f"_{block_index}"
        if "atom" in block.samples.names:
            atoms.arrays[key + suffix] = values.reshape(len(atoms), -1)
        else:
            flat = values.reshape(-1)
            atoms.info[key + suffix] = float(flat[0]) if flat.size == 1 else flat
        if "positions" in block.gradients_list():
            gradient = block.gradient("positions")
            mine = gradient.samples.column("system") == system
            atoms.arrays[_gradient_key(key, "forces")] = (
                -gradient.values[mine][..., 0].detach().numpy()
            )
        if "strain" in block.gradients_list() and atoms.pbc.all():
            gradient = block.gradient("strain")
            sample = int(torch.nonzero(systems == system)[0])
            strain = gradient.values[sample, ..., 0].detach().numpy()
            atoms.info[_gradient_key(key, "virial")] = -strain
            atoms.info[_gradient_key(key, "stress")] = strain / atoms.get_volume()


def _gradient_key(target: str, quantity: str) -> str:
    """``forces`` for the energy, ``energy_pbe_forces`` for a variant, etc."""
    return quantity if target == "energy" else f"{target}_{quantity}"


def write_predictions(evaluation: Evaluation, path: Path) -> List[Path]:
    """Write predictions to ``path`` (``.xyz``/``.extxyz``: one file; ``.mts``: one
    file per target, ``<stem>_<target>.mts``). Returns the files written."""
    if path.suffix == ".mts":
        written = []
        for name in evaluation.predictions[0] if evaluation.predictions else []:
            tensors = _renumbered([p[name] for p in evaluation.predictions])
            joined = mts.join(tensors, axis="samples", remove_tensor_name=True)
            target = path.with_name(f"{path.stem}_{name.replace('::', '_')}.mts")
            mts.save(str(target), joined.to(torch.float64))
            written.append(target)
        return written
    if path.suffix not in (".xyz", ".extxyz"):
        raise UserError(
            f"cannot write predictions to '{path}': use a .xyz, .extxyz or .mts file"
        )
    ase.io.write(path, prediction_frames(evaluation), format="extxyz")
    return [path]


def _renumbered(tensors: List[TensorMap]) -> List[TensorMap]:
    """Batch-local ``system`` sample numbers made global across batches."""
    result = []
    offset = 0
    for tensor in tensors:
        blocks = []
        count = 0
        for block in tensor.blocks():
            values = block.samples.values.clone()
            column = block.samples.names.index("system")
            if values.shape[0] > 0:
                count = max(count, int(values[:, column].max()) + 1)
            values[:, column] += offset
            new = mts.TensorBlock(
                values=block.values.detach(),
                samples=mts.Labels(block.samples.names, values),
                components=block.components,
                properties=block.properties,
            )
            blocks.append(new)
        offset += count
        result.append(TensorMap(tensor.keys, blocks))
    return result
