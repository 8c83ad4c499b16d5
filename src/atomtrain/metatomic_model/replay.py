"""Replay against forgetting: structures of the pretraining's domain, labelled once
with the pretrained model's energies and forces, trained on beside the new data as
the target ``energy/replay`` (predicted without the energy correction, whose shift is
that of the new data's level of theory)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any, Dict, List, Sequence, Tuple

import torch

from atomtrain.data.dataset import Dataset, InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.readers.ase import read_frames, structures
from atomtrain.data.structure import Structure, TargetData

from .model import MetatomicModel
from .pretrained import predict_energies
from .wrapped import REPLAY_TARGET, WrappedModelError

OPTION = "architecture.training.replay"


def replay_info(model: MetatomicModel) -> TargetInfo:
    """The replay target: an energy in the unit of the dataset's ``energy``, with
    forces."""
    energy = model.dataset_info.targets.get("energy")
    if energy is None:
        raise WrappedModelError(
            f"{OPTION}: replay labels the pretrained model's 'energy', and the "
            "dataset has no 'energy' target to give its unit"
        )
    return TargetInfo(quantity="energy", unit=energy.unit, gradients=("positions",))


def replay_dataset(model: MetatomicModel, settings: Dict[str, Any]) -> InMemoryDataset:
    """The structures of ``settings['read_from']`` labelled with the pretrained
    model's energies and forces (computed in ``model``'s dtype and device)."""
    path = str(settings["read_from"])
    try:
        read = structures(list(read_frames(path)), path)
    except FileNotFoundError:
        raise WrappedModelError(
            f"{OPTION}.read_from: '{path}' does not exist"
        ) from None
    known = set(model.atomic_types)
    for index, structure in enumerate(read):
        outside = sorted(set(structure.types.tolist()) - known)
        if outside:
            raise WrappedModelError(
                f"{OPTION}.read_from: structure {index} of '{path}' has atomic "
                f"types {outside} that the model does not know ({sorted(known)})"
            )
    info = replay_info(model)
    dataset_info = DatasetInfo(
        length_unit=model.dataset_info.length_unit,
        atomic_types=sorted({int(t) for s in read for t in s.types.tolist()}),
        targets={REPLAY_TARGET: info},
    )
    origins = [(path, i) for i in range(len(read))]
    unlabelled = InMemoryDataset(read, dataset_info, origins)
    labels = predict_energies(
        model.pretrained(), unlabelled, REPLAY_TARGET, info, forces=True
    )
    labelled: List[Structure] = []
    for structure, label in zip(read, labels):
        assert label.gradient is not None
        targets = {
            REPLAY_TARGET: TargetData([label.energy], {"positions": label.gradient})
        }
        labelled.append(
            Structure(
                structure.types,
                structure.positions,
                structure.cell,
                structure.pbc,
                targets,
            )
        )
    return InMemoryDataset(labelled, dataset_info, origins)


class PaddedDataset(Dataset):
    """``dataset`` with NaN labels for the ``targets`` its structures lack: the
    engine batches the new data and the replay structures together, and leaves NaN
    labels out of losses and metrics."""

    def __init__(self, dataset: Dataset, targets: Dict[str, TargetInfo]) -> None:
        self.dataset = dataset
        self.missing = {
            n: i for n, i in targets.items() if n not in dataset.info.targets
        }
        self.info = DatasetInfo(
            length_unit=dataset.info.length_unit,
            atomic_types=list(dataset.info.atomic_types),
            targets={**dataset.info.targets, **self.missing},
            extra_data=dict(dataset.info.extra_data),
        )

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Structure:
        structure = self.dataset[index]
        targets = dict(structure.targets)
        for name, info in self.missing.items():
            shape = [len(structure) if info.per_atom else 1, info.num_subtargets]
            targets[name] = TargetData([torch.full(shape, float("nan"))])
        return replace(structure, targets=targets)

    def geometry(self, index: int) -> Structure:
        return self.dataset.geometry(index)

    def origin(self, index: int) -> Tuple[str, int]:
        return self.dataset.origin(index)

    def subset(self, indices: Sequence[int]) -> PaddedDataset:
        return PaddedDataset(self.dataset.subset(indices), self.missing)

    def num_atoms(self) -> Sequence[int]:
        return self.dataset.num_atoms()


def with_replay(
    train: List[Dataset], validation: List[Dataset], replayed: Dataset
) -> Tuple[List[Dataset], List[Dataset]]:
    """The training sets and the replay structures, and the validation sets, each
    with NaN labels of the targets of the others."""
    joined = [*train, replayed]
    targets = {n: i for d in joined for n, i in d.info.targets.items()}
    return (
        [PaddedDataset(d, targets) for d in joined],
        [PaddedDataset(d, targets) for d in validation],
    )


def with_replay_loss(loss: Any, targets: List[str], weight: float) -> Dict[str, Any]:
    """The ``loss`` option with a term for the replay target: the energy's terms
    (type, reduction, forces) with their weights multiplied by ``weight``."""
    if isinstance(loss, str):
        per_target: Dict[str, Any] = {name: {"type": loss} for name in targets}
    else:
        per_target = copy.deepcopy(dict(loss))
    energy = dict(per_target.get("energy", {}))
    replay = copy.deepcopy(energy)
    replay["weight"] = weight * float(energy.get("weight", 1.0))
    forces = dict(energy.get("forces", {}))
    forces["weight"] = weight * float(forces.get("weight", 1.0))
    replay["forces"] = forces
    per_target[REPLAY_TARGET] = replay
    return per_target
