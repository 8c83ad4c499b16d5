"""The composition architecture runs the conformance suite.

Its outputs do not depend on positions: the force and stress checks require them to be
zero, and the checks of finite differences, second derivatives and the cutoff do not
apply. Models get random per-element weights before each check, so that invariance and
extensivity are checked on non-zero energies. The trainer is a single least-squares fit
(no epochs).
"""

from pathlib import Path
from typing import Any, Dict

import pytest
import torch

from atomtrain.composition import CompositionModel
from atomtrain.testing import ArchitectureTests

RESOURCES = Path(__file__).parents[1] / "resources"


class TestComposition(ArchitectureTests):
    architecture = "composition"
    depends_on_positions = False
    epoch_based = False
    supports_finetune = False

    def prepare_model(self, model: Any) -> Any:
        assert isinstance(model, CompositionModel)
        generator = torch.Generator().manual_seed(0)
        for name in model.composition_baseline.target_names:
            weights = model.composition_baseline.target_weights(name)
            weights.copy_(
                torch.randn(weights.shape, generator=generator, dtype=weights.dtype)
            )
        return model

    @pytest.fixture
    def golden_directory(self) -> Path:
        return RESOURCES / "checkpoints"

    @pytest.fixture
    def training_file(self) -> Path:
        return RESOURCES / "ethanol_reduced_100.xyz"

    @pytest.fixture
    def training_targets(self) -> Dict[str, Any]:
        return {"energy": {"unit": "kcal/mol"}}
