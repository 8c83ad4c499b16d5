"""The engine's test architecture runs the whole conformance suite, on the real
ethanol data for its training runs.

Run ``pytest tests/testing/test_dummy_conformance.py -k format`` after bumping a
checkpoint version: the test writes the new golden checkpoint and says where to put it.
"""

from pathlib import Path
from typing import Any, Dict

import pytest

from atomtrain.testing import ArchitectureTests

RESOURCES = Path(__file__).parents[1] / "resources"


class TestDummy(ArchitectureTests):
    architecture = "dummy"
    model_hypers = {"num_radial": 4, "hidden": 8}
    documentation_level = "stable"

    @pytest.fixture
    def architecture_name(self, dummy_architecture: str) -> str:
        return dummy_architecture

    @pytest.fixture
    def golden_directory(self) -> Path:
        return Path(__file__).parent / "resources" / "checkpoints"

    @pytest.fixture
    def training_file(self) -> Path:
        return RESOURCES / "ethanol_reduced_100.xyz"

    @pytest.fixture
    def training_targets(self) -> Dict[str, Any]:
        return {"energy": {"unit": "kcal/mol", "forces": {"key": "forces"}}}
