"""The PET trainer: the shared engine, with random rotations and reflections of the
training structures (PET learns rotational symmetry from them)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Dict, List, Optional

import torch

from atomtrain.checkpoints import upgrade
from atomtrain.data.augmentation import random_rotation
from atomtrain.data.dataset import Dataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure, TargetData
from atomtrain.training.engine import EngineTrainer
from atomtrain.training.settings import TrainerSettings
from atomtrain.utils.abc import ModelInterface

from .documentation import TrainerHypers

LOGGER = logging.getLogger("atomtrain.training")


@dataclass(frozen=True)
class PETTrainerSettings(TrainerSettings):
    """The keys of PET's :class:`~.documentation.TrainerHypers` (documented there)."""

    __declaration__: ClassVar[type] = TrainerHypers

    random_rotations: bool
    random_reflections: bool


class RandomOrientation:
    """A random rotation of a structure and its labels, followed (when
    ``reflections``) by an inversion through the origin with probability 1/2.

    Under the inversion ``r → -r`` positions, cell vectors and position gradients
    change sign, Cartesian tensors of odd rank too, and strain gradients and
    even-rank tensors are unchanged. A class rather than a closure, so that batches
    can be built in worker processes.
    """

    def __init__(
        self,
        targets: Dict[str, TargetInfo],
        extra_data: Dict[str, TargetInfo],
        rotations: bool,
        reflections: bool,
    ) -> None:
        self.targets = dict(targets)
        self.extra_data = dict(extra_data)
        self.rotations = rotations
        self.reflections = reflections

    def __call__(self, structure: Structure, generator: torch.Generator) -> Structure:
        if self.rotations:
            structure = random_rotation(
                structure, generator, self.targets, self.extra_data
            )
        if self.reflections and bool(torch.rand(1, generator=generator) < 0.5):
            structure = invert(structure, {**self.targets, **self.extra_data})
        return structure


def invert(structure: Structure, infos: Dict[str, TargetInfo]) -> Structure:
    """``structure`` and its labels inverted through the origin (``r → -r``)."""

    def invert_entries(entries: Dict[str, TargetData]) -> Dict[str, TargetData]:
        inverted = {}
        for name, data in entries.items():
            signs = _inversion_signs(infos.get(name), len(data.blocks))
            gradients = dict(data.gradients)
            if "positions" in gradients:
                gradients["positions"] = -gradients["positions"]
            blocks = [sign * b for sign, b in zip(signs, data.blocks)]
            inverted[name] = TargetData(blocks, gradients)
        return inverted

    return replace(
        structure,
        positions=-structure.positions,
        cell=-structure.cell,
        targets=invert_entries(structure.targets),
        extra_data=invert_entries(structure.extra_data),
    )


def _inversion_signs(info: Optional[TargetInfo], n_blocks: int) -> List[float]:
    """The sign each block of a target takes under the inversion: ``-1`` for
    Cartesian tensors of odd rank, ``σ (-1)^λ`` for the irreps of a spherical
    target, ``+1`` otherwise (scalars, entries without information)."""
    if info is None:
        return [1.0] * n_blocks
    if info.kind == "spherical":
        return [float(sigma * (-1) ** lam) for lam, sigma in info.irreps]
    return [-1.0 if info.rank % 2 == 1 else 1.0] * n_blocks


class Trainer(EngineTrainer[TrainerHypers]):
    """Trains :class:`~atomtrain.pet.model.PET` with the shared engine."""

    __checkpoint_version__ = 1
    settings_class = PETTrainerSettings
    settings: PETTrainerSettings

    def __init__(self, hypers: TrainerHypers) -> None:
        super().__init__(hypers)
        self.dataset_info: Optional[DatasetInfo] = None

    def before_training(
        self,
        model: ModelInterface[Any],
        datasets: List[Dataset],
        dataset_info: DatasetInfo,
    ) -> None:
        """Remember the targets, whose labels the random orientations transform."""
        self.dataset_info = dataset_info

    def transform_structure(
        self,
    ) -> Optional[Callable[[Structure, torch.Generator], Structure]]:
        rotations = self.settings.random_rotations
        reflections = self.settings.random_reflections
        if self.dataset_info is None or not (rotations or reflections):
            return None
        return RandomOrientation(
            self.dataset_info.targets,
            self.dataset_info.extra_data,
            rotations,
            reflections,
        )

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "trainer", cls.__checkpoint_version__, {})
