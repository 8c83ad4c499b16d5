"""The ZBL repulsion: the published curve, the switch, units, TorchScript, and a
dimer scan through a trained and exported model with ``zbl: true`` (the dummy
architecture, PET and SOAP-BPNN)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import List

import ase
import numpy as np
import pytest
import torch
import yaml
from metatomic.torch import System
from metatomic_ase import MetatomicCalculator
from vesin.metatomic import neighbor_lists_for_model

from atomtrain.modules.zbl import ZBL, energy_conversion
from atomtrain.workflows.train import train


def _dimer(distance: float, unit_factor: float = 1.0, types=(6, 6)) -> System:
    """Two atoms on the x axis, ``distance`` Å apart, positions scaled by
    ``unit_factor`` (Å to the system's length unit), with ZBL's neighbour list."""
    positions = torch.tensor(
        [[0.0, 0.0, 0.0], [distance * unit_factor, 0.0, 0.0]], dtype=torch.float64
    )
    return System(
        types=torch.tensor(types, dtype=torch.int32),
        positions=positions,
        cell=torch.zeros((3, 3), dtype=torch.float64),
        pbc=torch.zeros(3, dtype=torch.bool),
    )


def _energy(
    zbl: torch.nn.Module, systems: List[System], unit: str = "angstrom"
) -> torch.Tensor:
    for calculator in neighbor_lists_for_model(unit, zbl, model_length_unit=unit):
        calculator.add_neighbor_list(systems)
    return zbl(systems)


def _screening(x: float) -> float:
    return (
        0.18175 * math.exp(-3.1998 * x)
        + 0.50986 * math.exp(-0.94229 * x)
        + 0.28022 * math.exp(-0.4029 * x)
        + 0.028171 * math.exp(-0.20162 * x)
    )


def test_below_the_switch_the_published_zbl_curve():
    zbl = ZBL([1, 6, 8], "angstrom")
    rows = torch.tensor([1, 2])  # C and O
    r = 0.3  # below 0.5 * (0.76 + 0.66) Å: the switch is 1
    expected = 14.399645 * 6 * 8 / r
    expected *= _screening(r / (0.46850 / (6**0.23 + 8**0.23)))
    energy = zbl.pair_energy(torch.tensor([r]), rows[:1], rows[1:])
    assert float(energy) == pytest.approx(expected, rel=1e-6)


def test_switch_is_smooth_and_reaches_zero_at_the_sum_of_covalent_radii():
    zbl = ZBL([6], "angstrom")
    row = torch.zeros(1, dtype=torch.long)
    r_off = 2 * 0.76
    assert float(zbl.pair_energy(torch.tensor([r_off]), row, row)) == 0.0
    assert float(zbl.pair_energy(torch.tensor([r_off + 0.3]), row, row)) == 0.0
    r_on = 0.5 * r_off
    eps = 1e-7
    r = torch.tensor(
        [r_on - eps, r_on + eps, r_off - eps, r_off + eps],
        dtype=torch.float64,
        requires_grad=True,
    )
    rows = torch.zeros(4, dtype=torch.long)
    energy = zbl.pair_energy(r, rows, rows)
    (force,) = torch.autograd.grad(energy.sum(), r)
    # energy and its derivative are continuous across r_on and r_off
    torch.testing.assert_close(energy[0], energy[1], rtol=1e-5, atol=0.0)
    torch.testing.assert_close(force[0], force[1], rtol=1e-5, atol=0.0)
    assert abs(float(energy[2].detach())) < 1e-12 and abs(float(force[2])) < 1e-6
    scan = torch.linspace(0.3, r_off, 500, dtype=torch.float64)[:-1]
    scan.requires_grad_(True)
    rows = torch.zeros_like(scan, dtype=torch.long)
    (slope,) = torch.autograd.grad(zbl.pair_energy(scan, rows, rows).sum(), scan)
    assert bool((slope < 0).all()), "the repulsion must fall with distance"


def test_length_and_energy_units_are_converted():
    in_angstrom = ZBL([6], "angstrom")
    in_bohr = ZBL([6], "bohr")
    bohr = 1.0 / 0.529177210903
    for distance in (0.4, 0.9, 1.3):
        reference = _energy(in_angstrom, [_dimer(distance)])
        converted = _energy(in_bohr, [_dimer(distance, bohr)], "bohr")
        torch.testing.assert_close(converted, reference, rtol=1e-6, atol=1e-10)
    assert in_bohr.requested_neighbor_lists()[0].cutoff == pytest.approx(
        1.52 * bohr, rel=1e-6
    )
    assert energy_conversion("kcal/mol") == pytest.approx(23.0605, rel=1e-4)
    assert energy_conversion("eV") == 1.0


def test_per_atom_energies_share_each_pair_and_survive_torchscript():
    zbl = ZBL([1, 8], "angstrom")
    water = System(
        types=torch.tensor([8, 1, 1], dtype=torch.int32),
        positions=torch.tensor(
            [[0.0, 0.0, 0.0], [0.3, 0.0, 0.0], [0.0, 0.35, 0.0]], dtype=torch.float64
        ),
        cell=torch.zeros((3, 3), dtype=torch.float64),
        pbc=torch.zeros(3, dtype=torch.bool),
    )
    energies = _energy(zbl, [_dimer(0.5), water])
    fresh = [_dimer(0.5), System(water.types, water.positions, water.cell, water.pbc)]
    assert energies.shape == (5,)
    assert float(energies[0]) == pytest.approx(float(energies[1]))
    rows = torch.tensor([0, 1])  # H, O
    pairs = zbl.pair_energy(
        torch.tensor([0.3, 0.35, math.hypot(0.3, 0.35)], dtype=torch.float64),
        rows[[1, 1, 0]],
        rows[[0, 0, 0]],
    )
    assert float(energies[2:].sum()) == pytest.approx(float(pairs.sum()), rel=1e-9)
    for calculator in neighbor_lists_for_model("angstrom", zbl, "angstrom"):
        calculator.add_neighbor_list(fresh)
    torch.testing.assert_close(torch.jit.script(zbl)(fresh), energies)


def test_types_must_be_atomic_numbers():
    with pytest.raises(ValueError, match="atomic numbers"):
        ZBL([0, 6], "angstrom")


@pytest.mark.parametrize(
    "architecture, hypers",
    [
        ("dummy", {"hidden": 16}),
        (
            "pet",
            {"d_pet": 16, "d_head": 16, "d_node": 16, "d_feedforward": 16},
        ),
        (
            "soap_bpnn",
            {"bpnn": {"num_hidden_layers": 1, "num_neurons_per_layer": 16}},
        ),
    ],
)
def test_carbon_dimer_scan_rises_monotonically_below_one_angstrom(
    tmp_path: Path,
    resources: Path,
    dummy_architecture: str,
    monkeypatch,
    architecture: str,
    hypers: dict,
):
    monkeypatch.chdir(tmp_path)
    name = dummy_architecture if architecture == "dummy" else architecture
    options = {
        "architecture": {
            "name": name,
            "model": {"zbl": True, **hypers},
            "training": {"num_epochs": 1, "batch_size": 10},
        },
        "base_precision": 64,
        "seed": 3,
        "training_set": {
            "systems": str(resources / "carbon_reduced_100.xyz"),
            "targets": {"energy": {"unit": "eV", "forces": False}},
        },
        "validation_set": 0.1,
        "test_set": 0.0,
        "final_eval": False,
    }
    path = tmp_path / "options.yaml"
    path.write_text(yaml.safe_dump(options))
    result = train(path, output=tmp_path / "carbon.pt")

    calculator = MetatomicCalculator(str(result.model))
    distances = np.linspace(0.3, 1.0, 36)
    energies = []
    for distance in distances:
        atoms = ase.Atoms("C2", positions=[[0, 0, 0], [distance, 0, 0]])
        atoms.calc = calculator
        energies.append(atoms.get_potential_energy())
    steps = np.diff(energies)
    assert (steps < 0).all(), (
        f"energy rises with distance at {distances[1:][steps >= 0]}"
    )
    assert energies[0] - energies[-1] > 100.0  # eV: the repulsion dominates
