"""The whole conformance suite as one class to subclass."""

from __future__ import annotations

from .checkpoints import CheckpointTests
from .contract import ContractTests
from .outputs import OutputTests
from .physics import PhysicsTests
from .torchscript import TorchScriptTests
from .training import TrainingTests


class ArchitectureTests(
    ContractTests,
    OutputTests,
    PhysicsTests,
    TorchScriptTests,
    CheckpointTests,
    TrainingTests,
):
    """Every check of the suite. Subclass it in a test module, named ``Test...``::

        from atomtrain.testing import ArchitectureTests

        class TestMyModel(ArchitectureTests):
            architecture = "experimental.mymodel"
            model_hypers = {"hidden": 8}

            @pytest.fixture
            def golden_directory(self):
                return Path(__file__).parent / "checkpoints"

    The class attributes it reads are those of
    :class:`~atomtrain.testing.base.ArchitectureFixtures`.
    """
