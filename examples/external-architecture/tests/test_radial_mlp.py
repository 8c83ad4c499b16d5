"""The radial_mlp architecture runs atomtrain's conformance suite.

After bumping a __checkpoint_version__, run the test ``format_unchanged``: it writes the
golden checkpoint of the new version and says where to put it.
"""

from pathlib import Path

import pytest

from atomtrain.testing import ArchitectureTests


class TestRadialMlp(ArchitectureTests):
    architecture = "radial_mlp"
    model_hypers = {"cutoff": 4.0, "num_radial": 4, "hidden": 8}

    @pytest.fixture
    def golden_directory(self) -> Path:
        return Path(__file__).parent / "checkpoints"
