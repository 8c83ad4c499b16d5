"""Output scaling: scales fitted on residual labels of real data, kept when fitted,
float64 in any model dtype, and TorchScript-compatible."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict

import ase.io
import numpy as np
import pytest
import torch

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure, TargetData
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.modules.scaling import OutputScaler, fit_scales

ENERGY = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))
CHARGES = TargetInfo(quantity="charge", unit="", sample_kind="atom", num_subtargets=2)


def read(path: Path, forces: bool = True) -> InMemoryDataset:
    """Energies (eV), forces and made-up per-atom 'charges' of real frames."""
    structures = []
    for atoms in ase.io.read(path, ":"):
        energy = torch.tensor([[atoms.get_potential_energy()]], dtype=torch.float64)
        gradients = {}
        if forces:
            gradients["positions"] = -torch.tensor(atoms.arrays["force"])[..., None]
        numbers = torch.tensor(atoms.numbers, dtype=torch.float64)
        charges = torch.stack([numbers / 6.0, torch.full_like(numbers, 0.5)], 1)
        structures.append(
            Structure(
                types=torch.tensor(atoms.numbers, dtype=torch.int32),
                positions=torch.tensor(atoms.positions),
                cell=torch.tensor(np.asarray(atoms.cell)),
                pbc=torch.tensor(atoms.pbc),
                targets={
                    "energy": TargetData([energy], gradients),
                    "charges": TargetData([charges], {}),
                },
            )
        )
    info = DatasetInfo(atomic_types=[6], targets={"energy": ENERGY, "charges": CHARGES})
    return InMemoryDataset(structures, info, [(str(path), i) for i in range(100)])


@pytest.fixture
def carbon(resources: Path) -> InMemoryDataset:
    return read(resources / "carbon_reduced_100.xyz")


def fitted_baseline(dataset: InMemoryDataset) -> CompositionBaseline:
    baseline = CompositionBaseline([6], dataset.info.targets)
    baseline.fit([dataset])
    return baseline


def test_energy_scale_is_the_rms_per_atom_residual_energy(carbon, resources):
    baseline = fitted_baseline(carbon)
    frames = ase.io.read(resources / "carbon_reduced_100.xyz", ":")
    (weight,) = baseline.target_weights("energy").reshape(-1).tolist()
    per_atom = [a.get_potential_energy() / len(a) - weight for a in frames]
    scales = fit_scales([carbon], "energy", ENERGY, baseline)
    assert scales.dtype == torch.float64
    assert scales.tolist() == pytest.approx([math.sqrt(np.mean(np.square(per_atom)))])
    # forces play no part, and without the baseline the absolute energies (several
    # eV per atom) set the scale
    without_forces = read(resources / "carbon_reduced_100.xyz", forces=False)
    assert torch.equal(fit_scales([without_forces], "energy", ENERGY, baseline), scales)
    assert float(fit_scales([carbon], "energy", ENERGY, None)) > 10 * float(scales)


def test_per_atom_targets_get_one_scale_per_property_nan_skipped(carbon):
    carbon[0].targets["charges"].blocks[0][0, 1] = float("nan")
    scales = fit_scales([carbon], "charges", CHARGES, None)
    assert scales.tolist() == pytest.approx([1.0, 0.5])


def test_targets_without_labels_or_spread_keep_the_scale_one(carbon):
    other = TargetInfo(quantity="dipole", unit="", num_subtargets=3)
    assert fit_scales([carbon], "dipole", other, None).tolist() == [1.0] * 3
    for structure in carbon:
        structure.targets["charges"].blocks[0].zero_()
    assert fit_scales([carbon], "charges", CHARGES, None).tolist() == [1.0, 1.0]


def test_fitted_scales_are_kept_and_new_targets_are_fitted(carbon):
    targets: Dict[str, TargetInfo] = {"energy": ENERGY}
    scaler = OutputScaler(targets)
    assert not scaler.is_fitted("energy")
    assert scaler.fit([carbon], targets, fitted_baseline(carbon)) == ["energy"]
    energy_scale = scaler.scale("energy").clone()
    scaler.add_target("charges", CHARGES)
    everything = {"energy": ENERGY, "charges": CHARGES}
    assert scaler.fit([carbon], everything, None) == ["charges"]
    assert torch.equal(scaler.scale("energy"), energy_scale)
    assert scaler.is_fitted("charges") and scaler.scale("charges").tolist() == [1, 0.5]
    assert scaler.fit([carbon], everything, None) == []


def test_scales_stay_float64_in_a_float32_model_and_multiply_outputs():
    scaler = OutputScaler({"energy": ENERGY, "charges": CHARGES})
    scaler.scales["charges"].values.copy_(torch.tensor([2.0, 1.0 / 3.0]))
    scaler = scaler.to(torch.float32)
    assert scaler.scale("charges").dtype == torch.float64
    values = torch.ones((4, 2), dtype=torch.float32)
    scaled = scaler("charges", values)
    assert scaled.dtype == torch.float32
    assert scaled[0].tolist() == pytest.approx([2.0, 1.0 / 3.0])
    assert torch.equal(scaler("unknown", values), values)


def test_the_scaler_is_scriptable_and_its_state_round_trips(tmp_path):
    scaler = OutputScaler({"energy": ENERGY, "charges": CHARGES})
    scaler.scales["charges"].values.copy_(torch.tensor([2.0, 3.0]))
    scaler.scales["charges"].fitted.fill_(True)
    scripted = torch.jit.script(scaler)
    torch.jit.save(scripted, tmp_path / "scaler.pt")
    loaded = torch.jit.load(tmp_path / "scaler.pt")
    values = torch.ones((3, 2), dtype=torch.float64)
    assert loaded("charges", values)[0].tolist() == [2.0, 3.0]
    assert loaded("energy", values[:, :1]).tolist() == [[1.0]] * 3
    copy = OutputScaler({"energy": ENERGY, "charges": CHARGES})
    copy.load_state_dict(scaler.state_dict())
    assert copy.is_fitted("charges") and not copy.is_fitted("energy")
    assert copy.scale("charges").tolist() == [2.0, 3.0]
