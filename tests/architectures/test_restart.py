"""The restart step shared by architectures with one head per target, through PET."""

from __future__ import annotations

import pytest
import torch

from atomtrain.architectures.hypers import get_defaults
from atomtrain.architectures.restart import add_new_targets, refuse_new_atomic_types
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import UserError
from atomtrain.pet import PET

ENERGY = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))
TINY = {"d_pet": 8, "d_head": 8, "d_node": 8, "d_feedforward": 8, "num_heads": 2}


def test_new_targets_get_heads_in_the_model_dtype_and_baseline_entries():
    hypers = {**get_defaults("pet")["model"], **TINY}
    model = PET(hypers, DatasetInfo(atomic_types=[1, 6], targets={"energy": ENERGY}))
    model.to(torch.float64)
    more = DatasetInfo(atomic_types=[1], targets={"energy/pbe": ENERGY})
    add_new_targets(model, more, model._add_head)
    assert sorted(model.heads.keys()) == ["energy", "energy/pbe"]
    assert all(p.dtype == torch.float64 for p in model.heads["energy/pbe"].parameters())
    assert "energy/pbe" in model.output_scaler.scales
    assert "energy/pbe" in model.composition_baseline.target_names
    assert sorted(model.dataset_info.targets) == ["energy", "energy/pbe"]


def test_new_atomic_types_are_refused_with_the_known_ones():
    known = DatasetInfo(atomic_types=[1, 6], targets={})
    with pytest.raises(UserError) as error:
        refuse_new_atomic_types(
            known,
            DatasetInfo(atomic_types=[1, 8, 16], targets={}),
            "this model",
            UserError,
        )
    assert str(error.value) == (
        "the data contains atomic types [8, 16] that this model was not trained on "
        "(it knows [1, 6]); train a new model that includes them in "
        "architecture.atomic_types"
    )
    refuse_new_atomic_types(
        known, DatasetInfo(atomic_types=[6], targets={}), "", UserError
    )
