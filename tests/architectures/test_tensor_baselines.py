"""Checkpoints written before tensor targets had a composition baseline load through
the upgrade step, with a baseline of 0 for them (their predictions unchanged) and
the scalar targets' weights where they were."""

from typing import Any, Dict

import pytest
import torch

from atomtrain.architectures.hypers import get_defaults
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.pet import PET as Pet
from atomtrain.soap_bpnn import SoapBpnn
from atomtrain.testing.base import with_baseline_weights

TARGETS = {
    "mtt::alpha": TargetInfo(kind="spherical", irreps=((0, 1), (2, 1))),
    "energy": TargetInfo(quantity="energy", unit="eV"),
    "mtt::dipole": TargetInfo(kind="spherical", irreps=((1, 1),)),
}


def small_hypers(name: str) -> Dict[str, Any]:
    hypers = get_defaults(name)["model"]
    if name == "pet":
        hypers.update(d_pet=8, d_head=8, d_node=8, d_feedforward=8, num_heads=2)
    else:
        hypers["bpnn"].update(num_neurons_per_layer=8)
    return hypers


@pytest.mark.parametrize(("model_class", "old"), [(SoapBpnn, 3), (Pet, 4)])
def test_a_checkpoint_from_before_tensor_baselines_loads_with_zeros(model_class, old):
    name = "pet" if model_class is Pet else "soap_bpnn"
    info = DatasetInfo(atomic_types=[1, 6, 8], targets=TARGETS)
    model = model_class(small_hypers(name), info)
    with_baseline_weights(model)
    baseline = model.composition_baseline
    # scalars first: the energy's weights keep the place they had
    assert baseline.target_names == ["energy", "mtt::alpha"]
    checkpoint = model.get_checkpoint()
    weights = checkpoint["model"]["state_dict"]
    del weights["composition_baseline.heads.1.weights"]
    if model_class is Pet:  # one scale per property, for all irreps
        weights["output_scaler.scales.mtt::alpha.values"] = torch.tensor([2.0])
    else:  # no output scales
        for key in [k for k in weights if k.startswith("output_scaler.")]:
            del weights[key]
    checkpoint["model_checkpoint_version"] = old

    upgraded = model_class.upgrade_checkpoint(checkpoint)
    loaded = model_class.load_checkpoint(upgraded, context="export")

    assert loaded.composition_baseline.target_weights("mtt::alpha").abs().max() == 0
    scales = loaded.output_scaler.scale("mtt::alpha").tolist()
    assert scales == ([2.0, 2.0] if model_class is Pet else [1.0, 1.0])
    assert loaded.output_scaler.is_fitted("mtt::alpha") == (model_class is SoapBpnn)
    torch.testing.assert_close(
        loaded.composition_baseline.target_weights("energy"),
        baseline.target_weights("energy"),
    )
