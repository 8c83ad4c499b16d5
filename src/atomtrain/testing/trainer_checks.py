"""The trainer's predictions against the model's: what the engine trains on must be
the energy of the model and its exact derivatives.

An :class:`~atomtrain.training.engine.EngineTrainer` computes the predictions of a batch
in its ``predict`` hook, which architectures may override (to add a term, to compute
forces another way); the losses compare them with the labels. A sign or a factor wrong
there trains the model towards wrong forces while every check of the model alone
passes, so :func:`check_trainer_predictions` compares them with the energy and its
autograd derivatives computed by a :class:`~.probe.Probe`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, List, Sequence

import torch
from metatensor.torch import TensorBlock

from ..data.batching import BatchBuilder
from ..data.dataset import InMemoryDataset
from ..data.info import DatasetInfo
from ..data.structure import Structure, TargetData
from .base import ENERGY
from .probe import Probe, fail


def _labelled(
    structures: Sequence[Structure], gradients: Sequence[str]
) -> List[Structure]:
    """Copies of ``structures`` with zero labels of the energy and its
    ``gradients``: the labels' presence is what makes the engine ask for
    derivatives."""
    labelled = []
    for structure in structures:
        shapes = {"positions": (len(structure), 3, 1), "strain": (3, 3, 1)}
        label = TargetData(
            blocks=[torch.zeros((1, 1), dtype=torch.float64)],
            gradients={
                name: torch.zeros(shapes[name], dtype=torch.float64)
                for name in gradients
            },
        )
        labelled.append(
            Structure(
                types=structure.types,
                positions=structure.positions,
                cell=structure.cell,
                pbc=structure.pbc,
                targets={"energy": label},
            )
        )
    return labelled


def _compare(got: torch.Tensor, expected: torch.Tensor, what: str, fix: str) -> None:
    got, expected = got.detach().to(torch.float64), expected.to(torch.float64)
    if got.shape != expected.shape or not torch.allclose(
        got, expected, rtol=1e-8, atol=1e-10
    ):
        raise fail(
            f"the trainer's predictions of {what} are {got.flatten()[:6].tolist()}..., "
            f"the model's {expected.flatten()[:6].tolist()}...",
            fix,
        )


def _predicted_energy(
    trainer: Any,
    model: Any,
    structures: Sequence[Structure],
    gradients: Sequence[str],
) -> TensorBlock:
    """The block of ``trainer.predict``'s energy for a batch of ``structures``
    whose labels carry ``gradients``."""
    target = replace(ENERGY, gradients=tuple(gradients))
    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=list(model.dataset_info.atomic_types),
        targets={"energy": target},
    )
    dataset = InMemoryDataset(
        _labelled(structures, gradients),
        info,
        [("suite", i) for i in range(len(structures))],
    )
    builder = BatchBuilder(trainer.neighbor_options(model), {"energy": target})
    batch = builder(dataset, list(range(len(structures))), list(gradients))
    return trainer.predict(model, batch, {"energy": target})["energy"].block()


def _compare_gradients(
    block: TensorBlock,
    probe: Probe,
    structures: Sequence[Structure],
    gradients: Sequence[str],
    rows: torch.Tensor,
    fix: str,
) -> None:
    """The ``gradients`` of the trainer's energy ``block`` against autograd's on
    the model, structure by structure (``rows``: the structure of each sample)."""
    for index, structure in enumerate(structures):
        _, leaves = probe.energy_and_gradients(structure)
        assert leaves.positions.grad is not None and leaves.strain.grad is not None
        if "positions" in gradients:
            positions = block.gradient("positions")
            mine = positions.samples.column("system") == index
            _compare(
                positions.values[mine][:, :, 0],
                leaves.positions.grad,
                f"dE/dpositions of structure {index}",
                fix,
            )
        if "strain" in gradients:
            strain = block.gradient("strain")
            sample = int(torch.nonzero(rows == index)[0])
            own = strain.samples.column("sample") == sample
            _compare(
                strain.values[own][0, :, :, 0],
                leaves.strain.grad,
                f"dE/dstrain of structure {index}",
                fix,
            )


def check_trainer_predictions(
    trainer: Any,
    model: Any,
    structures: Sequence[Structure],
    gradients: Sequence[str] = ("positions", "strain"),
) -> None:
    """``trainer.predict`` on a batch of ``structures`` gives the model's energy and
    its ``gradients``, dE/dr (minus the forces) and dE/dε (minus the virial), the
    quantities the engine compares with the labels. ``model`` is a float64 model of
    the target ``energy`` (:data:`~.base.ENERGY`)."""
    model.eval()
    block = _predicted_energy(trainer, model, structures, gradients)
    fix = (
        "predict() must return the model's energy with the gradients dE/dpositions "
        "and dE/dstrain attached as atomtrain.training.predict.predict does: the "
        "engine compares gradients with gradients (the labels store minus the forces "
        "and minus the virial), so no sign is flipped and no factor applied"
    )
    probe = Probe(model, {"energy": ENERGY})
    rows = block.samples.column("system").to(torch.long)
    _compare(block.values[:, 0], probe.energy(structures)[rows], "the energy", fix)
    for name in gradients:
        if name not in block.gradients_list():
            raise fail(
                f"the trainer's predictions of the energy have no '{name}' gradient "
                "although the labels have one",
                fix,
            )
    _compare_gradients(block, probe, structures, gradients, rows, fix)
