"""The pretrained model's predictions of a dataset, structure by structure: what the
energy correction is fitted on, what the step-0 check compares, and the labels of the
replay structures."""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Sequence

import torch

from atomtrain.data.dataset import Dataset, InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure, TargetData
from atomtrain.training.predict import evaluation_batches, predict

from .model import MetatomicModel


class Prediction(NamedTuple):
    """One structure's energy ``[1, 1]`` and, when asked for, its gradient with
    respect to the positions ``[n_atoms, 3, 1]`` (minus the forces)."""

    energy: torch.Tensor
    gradient: Optional[torch.Tensor]


def predict_energies(
    model: MetatomicModel,
    dataset: Dataset,
    target: str,
    info: TargetInfo,
    forces: bool,
    batch_size: int = 8,
) -> List[Prediction]:
    """``model``'s predictions of ``target`` (in ``info``'s unit) for every
    structure of ``dataset``, in order, in float64 on the CPU."""
    probe = next(model.parameters())
    gradients = ("positions",) if forces else ()
    batches = evaluation_batches(
        dataset,
        model.requested_neighbor_lists(),
        {},
        probe.dtype,
        probe.device,
        batch_size,
        gradients,
        description="pretrained predictions",
    )
    unlabelled = {target: ["positions"]} if forces else {}
    predictions: List[Optional[Prediction]] = [None] * len(dataset)
    for batch in batches:
        with torch.enable_grad() if forces else torch.no_grad():
            result = predict(
                model, batch, {target: info}, False, unlabelled_gradients=unlabelled
            )
        block = result[target].block()
        energies = block.values.detach().to("cpu", torch.float64)
        counts = [len(system) for system in batch.systems]
        split: List[Optional[torch.Tensor]] = [None] * len(counts)
        if forces:
            values = block.gradient("positions").values.detach()
            split = list(torch.split(values.to("cpu", torch.float64), counts))
        # the batches of the plan are not in the dataset's order: place each
        # structure's prediction by its index
        for row, index in enumerate(batch.indices.tolist()):
            predictions[index] = Prediction(energies[row].reshape(1, 1), split[row])
    return [p for p in predictions if p is not None]


def residual_dataset(
    model: MetatomicModel, datasets: Sequence[Dataset], targets: Dict[str, TargetInfo]
) -> List[Dataset]:
    """The labels of ``targets`` less ``model``'s predictions of them, per
    structure of ``datasets`` (geometry only otherwise): what the energy correction
    is fitted on."""
    residuals: List[Dataset] = []
    for dataset in datasets:
        present = [name for name in targets if name in dataset.info.targets]
        predicted = {
            name: predict_energies(model, dataset, name, targets[name], False)
            for name in present
        }
        structures = []
        for index in range(len(dataset)):
            structure = dataset[index]
            labels = {}
            for name in present:
                if name in structure.targets:
                    label = structure.targets[name].blocks[0].to(torch.float64)
                    labels[name] = TargetData([label - predicted[name][index].energy])
            structures.append(_geometry(structure, labels))
        info = DatasetInfo(
            length_unit=dataset.info.length_unit,
            atomic_types=list(dataset.info.atomic_types),
            targets={name: targets[name] for name in present},
        )
        origins = [dataset.origin(i) for i in range(len(dataset))]
        residuals.append(InMemoryDataset(structures, info, origins))
    return residuals


def _geometry(structure: Structure, labels: Dict[str, TargetData]) -> Structure:
    return Structure(
        structure.types, structure.positions, structure.cell, structure.pbc, labels
    )
