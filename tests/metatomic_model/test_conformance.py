"""The metatomic architecture runs the whole conformance suite of
:mod:`atomtrain.testing`, wrapping a hand-made exported model (exactly invariant,
smooth, small), training on the real ethanol data.

Run ``pytest tests/metatomic_model/test_conformance.py -k format`` after bumping a
checkpoint version: the test writes the new golden checkpoint and says where to put
it.
"""

from pathlib import Path
from typing import Any, Dict

import pytest

from atomtrain.testing import ArchitectureTests

RESOURCES = Path(__file__).parents[1] / "resources"


class TestMetatomic(ArchitectureTests):
    architecture = "metatomic"
    documentation_level = "stable"
    # the wrapped model computes energies only
    per_atom_outputs = False

    @pytest.fixture
    def model_overrides(self, handmade_file: Path) -> Dict[str, Any]:
        return {"path": str(handmade_file)}

    @pytest.fixture
    def golden_directory(self) -> Path:
        return RESOURCES / "checkpoints"

    @pytest.fixture
    def training_file(self) -> Path:
        return RESOURCES / "ethanol_reduced_100.xyz"

    @pytest.fixture
    def training_targets(self) -> Dict[str, Any]:
        return {"energy": {"unit": "kcal/mol", "forces": {"key": "forces"}}}
