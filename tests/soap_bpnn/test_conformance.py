"""SOAP-BPNN runs the whole conformance suite of :mod:`atomtrain.testing`, with tiny
hypers, training on the real ethanol data.

Run ``pytest tests/soap_bpnn/test_conformance.py -k format`` after bumping a
checkpoint version: the test writes the new golden checkpoint and says where to put it.
"""

from pathlib import Path
from typing import Any, Dict

import pytest

from atomtrain.testing import ArchitectureTests

RESOURCES = Path(__file__).parents[1] / "resources"


class TestSoapBpnn(ArchitectureTests):
    architecture = "soap_bpnn"
    model_hypers = {
        "soap": {"max_angular": 2, "max_radial": 2, "cutoff": {"radius": 4.0}},
        "bpnn": {"num_neurons_per_layer": 8},
    }
    # the golden checkpoints were written without EMA (the default before 0.99):
    # the suite's checkpoints keep that format
    trainer_hypers = {"ema_decay": None}
    documentation_level = "stable"
    target_kinds = ("scalar", "cartesian", "spherical")

    @pytest.fixture
    def golden_directory(self) -> Path:
        return RESOURCES / "checkpoints"

    @pytest.fixture
    def training_file(self) -> Path:
        return RESOURCES / "ethanol_reduced_100.xyz"

    @pytest.fixture
    def training_targets(self) -> Dict[str, Any]:
        return {"energy": {"unit": "kcal/mol", "forces": {"key": "forces"}}}
