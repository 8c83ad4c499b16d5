"""PET's charge and spin conditioning: the state read from the systems' data, the
defaults of a structure without it, range checks, and an exported model that gives
each charge its own energy in ASE through metatomic's system data."""

from __future__ import annotations

import ase
import ase.units
import pytest
import torch
from metatomic.torch import ModelOutput
from pet_helpers import ENERGY, systems_of, tiny_hypers

from atomtrain.data.info import DatasetInfo
from atomtrain.data.system_inputs import attach_inputs, requested_inputs
from atomtrain.pet import PET

INFO = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": ENERGY})


def conditioned(seed: int = 0) -> PET:
    torch.manual_seed(seed)
    hypers = tiny_hypers(system_conditioning=True, max_charge=2)
    model = PET(hypers, INFO).to(torch.float64).eval()
    return model


def energy(model: PET, structure, charge=None, spin=None) -> float:
    systems = systems_of([structure], model.neighbors)
    names = [n for n, v in (("charge", charge), ("spin_multiplicity", spin)) if v]
    if names:
        values = {"charge": charge, "spin_multiplicity": spin}
        extra = {n: _map(float(values[n])) for n in names}
        attach_inputs(systems, names, extra)
    result = model(systems, {"energy": ModelOutput()})["energy"]
    return float(result.block().values[0, 0].detach())


def _map(value: float):
    from metatensor.torch import Labels, TensorBlock, TensorMap

    block = TensorBlock(
        torch.tensor([[value]], dtype=torch.float64),
        Labels.range("system", 1),
        [],
        Labels.range("value", 1),
    )
    return TensorMap(Labels.single(), [block])


def test_the_model_requests_charge_and_spin_only_when_conditioned():
    assert sorted(requested_inputs(conditioned())) == ["charge", "spin_multiplicity"]
    assert requested_inputs(PET(tiny_hypers(), INFO)) == {}


def test_each_state_has_its_own_energy_and_missing_data_is_neutral_singlet(ethanol):
    model = conditioned()
    structure = ethanol[0]
    neutral = energy(model, structure)
    assert energy(model, structure, charge=None, spin=1) == pytest.approx(neutral)
    cation = energy(model, structure, charge=1, spin=2)
    anion = energy(model, structure, charge=-1, spin=2)
    assert len({round(neutral, 9), round(cation, 9), round(anion, 9)}) == 3
    # spin alone changes it too
    assert energy(model, structure, charge=1, spin=2) != pytest.approx(
        energy(model, structure, charge=1, spin=4)
    )


def test_a_fresh_model_already_tells_the_states_apart(ethanol):
    # random embeddings: each state gives the atoms their own features from the
    # first step (zero ones would move by the learning rate per step)
    torch.manual_seed(3)
    model = PET(tiny_hypers(system_conditioning=True), INFO).to(torch.float64).eval()
    structure = ethanol[0]
    assert energy(model, structure, charge=1, spin=2) != pytest.approx(
        energy(model, structure)
    )


@pytest.mark.parametrize(
    "charge, spin, message",
    [
        (3, 1, r"'charge' from -2 to 2 .* got 3"),
        (0.5, 1, r"'charge' from -2 to 2 .* got 0.5"),
        (1, 11, r"'spin_multiplicity' from 1 to 10 .* got 11"),
    ],
)
def test_states_outside_the_trained_range_are_errors(ethanol, charge, spin, message):
    with pytest.raises(ValueError, match=message):
        energy(conditioned(), ethanol[0], charge=charge, spin=spin)


def test_an_exported_model_reads_the_charge_of_ase_atoms(ethanol, tmp_path):
    from metatomic_ase import MetatomicCalculator

    model = conditioned()
    model.export().save(str(tmp_path / "model.pt"))
    structure = ethanol[0]
    atoms = ase.Atoms(
        numbers=structure.types.numpy(), positions=structure.positions.numpy()
    )
    atoms.calc = MetatomicCalculator(str(tmp_path / "model.pt"))
    found = {}
    for charge, spin in ((0, 1), (1, 2), (-1, 2)):
        atoms.info["charge"] = charge
        atoms.info["spin_multiplicity"] = spin
        found[charge] = atoms.get_potential_energy()
        expected = energy(model, structure, charge=charge or None, spin=spin)
        # the model's energies are in kcal/mol, ASE's in eV
        in_ev = expected * ase.units.kcal / ase.units.mol
        assert found[charge] == pytest.approx(in_ev, rel=1e-6)
    assert len({round(v, 9) for v in found.values()}) == 3
    atoms.info["charge"] = 5
    with pytest.raises(Exception, match="'charge' from -2 to 2"):
        atoms.get_potential_energy()
