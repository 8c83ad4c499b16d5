"""The MACE model beyond the conformance suite: what it refuses, its last-layer
features and invariant features, new targets on restart, and MACE's ZBL repulsion in
the targets' units."""

from __future__ import annotations

from typing import Dict, List

import pytest
import torch
from mace_helpers import ENERGY, tiny_hypers
from metatomic.torch import ModelOutput, System
from metatomic.torch.o3 import random_transformations

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import OptionsError, UserError
from atomtrain.mace import MACE
from atomtrain.testing.systems import to_systems, transformed
from atomtrain.utils.outputs import last_layer_features_name

CHARGES = TargetInfo(quantity="charge", unit="e", sample_kind="atom")


def _info(targets: Dict[str, TargetInfo], unit: str = "angstrom") -> DatasetInfo:
    return DatasetInfo(length_unit=unit, atomic_types=[1, 6, 8], targets=targets)


def _systems(model: MACE, dataset: InMemoryDataset, count: int) -> List[System]:
    structures = [dataset[i] for i in range(count)]
    return to_systems(structures, model.requested_neighbor_lists(), torch.float64)


def test_targets_that_are_not_invariant_scalars_are_refused_by_name():
    targets = {
        "energy": ENERGY,
        "mtt::dipole": TargetInfo(kind="cartesian", rank=1),
        "mtt::spherical": TargetInfo(kind="spherical", irreps=((2, 1),)),
    }
    with pytest.raises(UserError) as error:
        MACE(tiny_hypers(), _info(targets))
    message = str(error.value)
    assert "learns invariant scalar targets only" in message
    assert "['mtt::dipole', 'mtt::spherical']" in message


def test_every_problem_of_the_hypers_is_reported_at_once():
    hypers = tiny_hypers(
        hidden_irreps="4x0e + 2x1o", MLP_irreps="4x1o", pair_repulsion=True
    )
    with pytest.raises(OptionsError) as error:
        MACE(hypers, _info({"energy": ENERGY}, unit="nm"))
    message = str(error.value)
    assert "architecture.model.hidden_irreps" in message
    assert "every irrep needs the same number of channels" in message
    assert "architecture.model.MLP_irreps" in message
    assert "needs invariant (0e) channels" in message
    assert "architecture.model.pair_repulsion" in message
    assert "the data's length unit is 'nm'" in message
    with pytest.raises(OptionsError, match="not e3nn irreps"):
        MACE(tiny_hypers(hidden_irreps="four scalars"), _info({"energy": ENERGY}))


def test_outputs_are_linear_in_the_last_layer_features(ethanol):
    torch.manual_seed(0)
    model = MACE(tiny_hypers(), ethanol.info).to(torch.float64).eval()
    model.composition_baseline.active = False
    systems = _systems(model, ethanol, 6)
    name = last_layer_features_name("energy")
    outputs = {
        "energy": ModelOutput(sample_kind="atom"),
        name: ModelOutput(sample_kind="atom"),
    }
    results = model(systems, outputs)
    energies = results["energy"].block().values
    features = results[name].block().values
    # the scalars of the first layer's features (4) and the hidden layer of the last
    # readout (4)
    assert features.shape == (energies.shape[0], 8)
    weights = torch.linalg.lstsq(features, energies).solution
    torch.testing.assert_close(features @ weights, energies, rtol=0, atol=1e-10)


def test_feature_output_is_invariant(ethanol):
    torch.manual_seed(0)
    model = MACE(tiny_hypers(), ethanol.info).to(torch.float64).eval()
    structure = ethanol[0]
    outputs = {"feature": ModelOutput(sample_kind="atom")}
    options = model.requested_neighbor_lists()
    reference = model(to_systems([structure], options), outputs)["feature"]
    generator = torch.Generator().manual_seed(1)
    operation = random_transformations(
        1, 0, dtype=torch.float64, device=torch.device("cpu"), generator=generator
    )
    # an improper rotation: rotation and inversion
    matrix = -operation.matrices[0]
    moved = model(to_systems([transformed(structure, matrix)], options), outputs)
    moved = moved["feature"]
    # the invariant channels of both layers: 4 scalars each
    assert reference.block().values.shape == (len(structure), 8)
    torch.testing.assert_close(
        moved.block().values, reference.block().values, rtol=1e-9, atol=1e-10
    )


def test_restart_adds_readouts_and_refuses_new_atomic_types(ethanol):
    model = MACE(tiny_hypers(), ethanol.info)
    model.restart(_info({"energy": ENERGY, "mtt::charge": CHARGES}))
    assert sorted(model.heads.keys()) == ["energy", "mtt::charge"]
    assert "mtt::charge" in model.supported_outputs()
    new = DatasetInfo(atomic_types=[1, 6, 8, 16], targets={"energy": ENERGY})
    with pytest.raises(UserError, match=r"atomic types \[16\] that this MACE model"):
        model.restart(new)


def test_pair_repulsion_is_converted_to_the_unit_of_each_energy(ethanol):
    # zero readouts: the energies are MACE's ZBL repulsion alone (the output scale is
    # 1 and the composition baseline 0 in an untrained model)
    energies = {}
    for unit in ("eV", "kcal/mol"):
        torch.manual_seed(0)
        target = TargetInfo(quantity="energy", unit=unit)
        model = MACE(tiny_hypers(pair_repulsion=True), _info({"energy": target}))
        model = model.to(torch.float64).eval()
        for parameter in model.heads.parameters():
            parameter.data.zero_()
        systems = _systems(model, ethanol, 3)
        result = model(systems, {"energy": ModelOutput()})
        energies[unit] = result["energy"].block().values[:, 0]
    assert bool((energies["eV"] > 0).all())
    torch.testing.assert_close(
        energies["kcal/mol"], energies["eV"] * 23.060547830619, rtol=1e-6, atol=0
    )
