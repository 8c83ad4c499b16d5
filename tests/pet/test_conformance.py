"""PET runs the conformance suite of :mod:`atomtrain.testing` with tiny hypers.

PET is not built-in equivariant: it learns rotational symmetry from the random
rotations of training, so an untrained model is only approximately invariant and its
Cartesian outputs only approximately equivariant; the suite's rotation tolerance says
so. The suite's training part (train, restart and fine-tune through the command line)
runs here too; ``tests/pet/test_trainer.py`` and ``tests/finetune/test_pet.py`` train
on the real data.

Run ``pytest tests/pet/test_conformance.py -k format`` after bumping a checkpoint
version: the test writes the new golden checkpoint and says where to put it.
"""

from pathlib import Path
from typing import List

import pytest

from atomtrain.data.structure import Structure
from atomtrain.testing import (
    CheckpointTests,
    ContractTests,
    OutputTests,
    PhysicsTests,
    TorchScriptTests,
    TrainingTests,
)
from atomtrain.testing.output_checks import check_equivariance
from atomtrain.testing.probe import Probe

RESOURCES = Path(__file__).parents[1] / "resources"


class TestPet(
    ContractTests,
    OutputTests,
    PhysicsTests,
    TorchScriptTests,
    CheckpointTests,
    TrainingTests,
):
    architecture = "pet"
    model_hypers = {
        "cutoff": 4.0,
        "d_pet": 16,
        "d_head": 16,
        "d_node": 24,
        "d_feedforward": 32,
        "num_heads": 2,
        "num_gnn_layers": 2,
        "num_attention_layers": 2,
        "num_radial": 6,
    }
    # the golden checkpoints were written without EMA (the default before 0.99):
    # the suite's checkpoints keep that format
    trainer_hypers = {"ema_decay": None}
    documentation_level = "stable"
    target_kinds = ("scalar", "cartesian", "spherical")
    # learned, not built-in, rotational symmetry (relative deviation of an
    # untrained model)
    rotation_tolerance = 0.5

    @pytest.fixture
    def golden_directory(self) -> Path:
        return RESOURCES / "checkpoints"

    def test_equivariance_of_every_supported_target(
        self, multi_probe: Probe, structures: List[Structure]
    ) -> None:
        """Scalars only: an untrained PET's Cartesian outputs are not equivariant at
        all (it learns that from rotated training data), while its scalars are nearly
        invariant by construction of the edge tokens."""
        for name, info in multi_probe.targets.items():
            if info.kind == "scalar":
                check_equivariance(
                    multi_probe, structures, name, info, self.rotation_tolerance
                )
