"""MACE runs the whole conformance suite of :mod:`atomtrain.testing`, with tiny
hypers, training on the real ethanol data.

Run ``pytest tests/mace/test_conformance.py -k format`` after bumping a checkpoint
version: the test writes the new golden checkpoint and says where to put it.
"""

from pathlib import Path
from typing import Any, Dict

import pytest

from atomtrain.testing import ArchitectureTests

RESOURCES = Path(__file__).parents[1] / "resources"

#: A MACE small enough for the suite: two layers of 4 channels.
TINY_HYPERS: Dict[str, Any] = {
    "r_max": 4.0,
    "num_radial_basis": 4,
    "max_ell": 2,
    "correlation": 2,
    "hidden_irreps": "4x0e + 4x1o",
    "MLP_irreps": "4x0e",
    "radial_MLP": [8],
}


class TestMace(ArchitectureTests):
    architecture = "mace"
    model_hypers = TINY_HYPERS
    documentation_level = "stable"

    @pytest.fixture
    def golden_directory(self) -> Path:
        return RESOURCES / "checkpoints"

    @pytest.fixture
    def training_file(self) -> Path:
        return RESOURCES / "ethanol_reduced_100.xyz"

    @pytest.fixture
    def training_targets(self) -> Dict[str, Any]:
        return {"energy": {"unit": "kcal/mol", "forces": {"key": "forces"}}}
