"""The optional protocols of the plugin contract: declared by subclassing, checked
once when the model is built."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
import torch
from metatomic.torch import ModelMetadata, NeighborListOptions

from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.training.baseline import without_baseline
from atomtrain.utils.abc import (
    ModelInterface,
    RequestsNeighborLists,
    WithCompositionBaseline,
    WithHeads,
)

ENERGY = TargetInfo(quantity="energy", unit="eV")
INFO = DatasetInfo(atomic_types=[1, 8], targets={"energy": ENERGY})


class Minimal(ModelInterface[Dict[str, Any]]):
    """A model with the contract's members only (none of them is called here)."""

    __checkpoint_version__ = 1
    __supported_devices__ = ["cpu"]
    __supported_dtypes__ = [torch.float64]
    __default_metadata__ = ModelMetadata(
        references={"implementation": [], "architecture": []}
    )

    def forward(self, systems, outputs, selected_atoms=None):  # type: ignore[override]
        return {}

    def supported_outputs(self):  # type: ignore[override]
        return {}

    def restart(self, dataset_info):  # type: ignore[override]
        return self

    @classmethod
    def load_checkpoint(cls, checkpoint, context):  # type: ignore[override]
        raise NotImplementedError

    def export(self, metadata: Optional[ModelMetadata] = None):  # type: ignore[override]
        raise NotImplementedError

    @classmethod
    def upgrade_checkpoint(cls, checkpoint):  # type: ignore[override]
        return checkpoint

    def get_checkpoint(self):  # type: ignore[override]
        return {}


class WithBaseline(Minimal, WithCompositionBaseline):
    def __init__(self, hypers: Dict[str, Any], info: DatasetInfo) -> None:
        super().__init__(hypers, info)
        self.composition_baseline = CompositionBaseline(info.atomic_types, info.targets)


class ForgotTheBaseline(Minimal, WithCompositionBaseline):
    pass


class UndeclaredHeads(Minimal):
    def head_modules(self) -> Dict[str, torch.nn.Module]:
        return {}


class UndeclaredNeighbors(Minimal):
    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return []


class HeadsWithoutMethod(Minimal, WithHeads):
    pass


def test_declared_protocols_are_checked_when_the_model_is_built():
    assert isinstance(WithBaseline({}, INFO), WithCompositionBaseline)
    with pytest.raises(
        TypeError,
        match="ForgotTheBaseline declares "
        "WithCompositionBaseline but sets no module "
        "'composition_baseline'",
    ):
        ForgotTheBaseline({}, INFO)
    with pytest.raises(TypeError, match="abstract method head_modules"):
        HeadsWithoutMethod({}, INFO)


@pytest.mark.parametrize(
    ("model", "protocol", "method"),
    [
        (UndeclaredHeads, "WithHeads", "head_modules"),
        (UndeclaredNeighbors, "RequestsNeighborLists", "requested_neighbor_lists"),
    ],
)
def test_a_protocol_method_without_the_protocol_is_refused(model, protocol, method):
    with pytest.raises(
        TypeError,
        match=rf"defines {method}\(\) but does not declare "
        rf"atomtrain\.utils\.abc\.{protocol}",
    ):
        model({}, INFO)
    assert not isinstance(Minimal({}, INFO), RequestsNeighborLists)


def test_without_baseline_switches_it_off_and_back_even_on_errors():
    model = WithBaseline({}, INFO)
    baseline = model.composition_baseline
    with pytest.raises(RuntimeError), without_baseline(model):
        assert not baseline.active
        raise RuntimeError("training failed")
    assert baseline.active
    with without_baseline(Minimal({}, INFO)):
        pass
