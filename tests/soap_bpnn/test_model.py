"""The SOAP-BPNN model: outputs, selected atoms, errors, TorchScript, export to ASE,
checkpoints and restart. The golden checkpoint files are checked by the conformance
suite (``test_conformance.py``)."""

import json
import subprocess
import sys

import ase.io
import numpy as np
import pytest
import torch
from metatensor.torch import Labels
from metatomic.torch import ModelOutput, unit_conversion_factor
from metatomic_ase import MetatomicCalculator
from soap_helpers import (
    RESOURCES,
    TINY,
    batch_of,
    energies,
    tiny_model,
)

from atomtrain.checkpoints import (
    CheckpointVersionError,
    read_checkpoint_file,
    write_checkpoint_file,
)
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import OptionsError
from atomtrain.modules.zbl import energy_conversion
from atomtrain.soap_bpnn import SoapBpnn
from atomtrain.soap_bpnn.heads import NewAtomicTypesError, UnsupportedTargetError


def test_outputs_per_structure_per_atom_and_features(ethanol):
    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=[1, 6, 8],
        targets={
            **ethanol.info.targets,
            "mtt::charge": TargetInfo(sample_kind="atom", num_subtargets=2),
        },
    )
    torch.manual_seed(0)
    model = SoapBpnn(TINY, info).to(torch.float64)  # type: ignore[arg-type]
    supported = model.supported_outputs()
    assert "feature" in supported
    assert "mtt::aux::energy_last_layer_features" in supported
    assert "mtt::aux::charge_last_layer_features" in supported
    systems = batch_of(model, ethanol, [0, 1], labels=False).systems
    requested = {
        "energy": ModelOutput(),
        "mtt::charge": ModelOutput(sample_kind="atom"),
        "feature": ModelOutput(sample_kind="atom"),
        "mtt::aux::energy_last_layer_features": ModelOutput(sample_kind="atom"),
    }
    outputs = model(systems, requested, None)
    assert outputs["energy"].block().values.shape == (2, 1)
    charge = outputs["mtt::charge"].block()
    assert charge.values.shape == (18, 2)
    expected = [[s, a] for s in range(2) for a in range(9)]
    assert charge.samples.values.tolist() == expected
    assert outputs["feature"].block().values.shape == (18, 16)
    llf = outputs["mtt::aux::energy_last_layer_features"].block().values
    assert llf.shape == (18, 3 * 16)
    # each atom's features sit in the block of its element only
    types = systems[0].types.tolist() * 2
    for row, z in zip(llf, types):
        block = [1, 6, 8].index(z)
        nonzero = row.reshape(3, 16).abs().sum(dim=1) > 0
        assert nonzero.tolist() == [b == block for b in range(3)]
    # the energy is the sum of the last layer applied to these features
    weight = model.heads["energy"].last.linear.weight
    summed = (llf @ weight.T).reshape(2, 9).sum(dim=1)
    torch.testing.assert_close(summed, outputs["energy"].block().values[:, 0])


def test_selected_atoms_restrict_the_sum(ethanol):
    model = tiny_model(ethanol)
    systems = batch_of(model, ethanol, [0, 1], labels=False).systems
    per_atom = model(systems, {"energy": ModelOutput(sample_kind="atom")}, None)
    values = per_atom["energy"].block().values[:, 0].reshape(2, 9)
    selected = Labels(["system", "atom"], torch.tensor([[0, 1], [0, 4], [1, 8]]))
    outputs = model(systems, {"energy": ModelOutput()}, selected)
    expected = torch.stack([values[0, 1] + values[0, 4], values[1, 8]])
    torch.testing.assert_close(outputs["energy"].block().values[:, 0], expected)


def test_targets_it_cannot_model_are_all_named(ethanol):
    info = DatasetInfo(
        atomic_types=[1, 6, 8],
        targets={
            **ethanol.info.targets,
            "mtt::hyperpolarizability": TargetInfo(kind="cartesian", rank=3),
            "mtt::chirality": TargetInfo(kind="spherical", irreps=((0, -1), (1, 1))),
            "mtt::dipole": TargetInfo(kind="spherical", irreps=((1, 1),)),
        },
    )
    with pytest.raises(UnsupportedTargetError) as error:
        SoapBpnn(TINY, info)  # type: ignore[arg-type]
    message = str(error.value)
    assert "'mtt::hyperpolarizability' (cartesian rank 3)" in message
    assert "'mtt::chirality' (irreps o3_lambda=0, o3_sigma=-1)" in message
    assert "mtt::dipole" not in message


def test_hypers_problems_are_reported_together(ethanol):
    hypers = {
        **TINY,
        "soap": {**TINY["soap"], "cutoff": {"radius": 3.0, "width": 4.0}},
        "heads": {"enegry": "linear"},
    }
    with pytest.raises(OptionsError) as error:
        SoapBpnn(hypers, ethanol.info)  # type: ignore[arg-type]
    message = str(error.value)
    assert (
        "architecture.model.soap.cutoff.width: must be positive and at most" in message
    )
    assert "architecture.model.heads.enegry" in message
    assert "did you mean 'energy'" in message


def test_linear_heads_have_no_hidden_layer(ethanol):
    linear = tiny_model(ethanol, heads={"energy": "linear"})
    mlp = tiny_model(ethanol)
    count = lambda m: sum(p.numel() for p in m.heads.parameters())  # noqa: E731
    assert count(mlp) - count(linear) == 3 * 16 * 16


def test_torchscript_save_and_load(ethanol, tmp_path):
    model = tiny_model(ethanol).eval()
    batch = batch_of(model, ethanol, [0, 1, 2], labels=False)
    torch.jit.save(torch.jit.script(model), tmp_path / "model.pt")
    loaded = torch.jit.load(tmp_path / "model.pt")
    torch.testing.assert_close(energies(loaded, batch), energies(model, batch))


@pytest.mark.parametrize("name", ["ethanol", "carbon"])
def test_export_runs_in_ase(name, request, tmp_path):
    dataset = request.getfixturevalue(name)
    model = tiny_model(dataset)
    model.composition_baseline.fit([dataset])
    index = 5
    batch = batch_of(model, dataset, [index], ["positions", "strain"])
    energy = energies(model, batch)
    position_gradient, strain_gradient = torch.autograd.grad(
        energy.sum(), [batch.positions[0], batch.strains[0]]
    )
    exported = model.export()
    assert exported.capabilities().interaction_range == 4.0
    exported.save(str(tmp_path / "model.pt"), collect_extensions=str(tmp_path / "ext"))

    file = "ethanol_reduced_100.xyz" if name == "ethanol" else "carbon_reduced_100.xyz"
    atoms = ase.io.read(RESOURCES / file, index)
    atoms.calc = MetatomicCalculator(
        str(tmp_path / "model.pt"), extensions_directory=str(tmp_path / "ext")
    )
    to_ev = unit_conversion_factor(dataset.info.targets["energy"].unit, "eV")
    assert atoms.get_potential_energy() == pytest.approx(
        float(energy.detach()) * to_ev, rel=1e-9
    )
    np.testing.assert_allclose(
        atoms.get_forces(), -position_gradient.numpy() * to_ev, atol=1e-9
    )
    if name == "carbon":
        stress = atoms.get_stress(voigt=False)
        expected = strain_gradient.numpy() * to_ev / atoms.get_volume()
        np.testing.assert_allclose(stress, expected, atol=1e-9)


#: Forces and stress of an exported model in a process that imports only ASE and
#: metatomic, as LAMMPS, i-PI's driver or a user's MD script runs it.
ENGINE_SCRIPT = """
import json, sys
import ase.io
from metatomic_ase import MetatomicCalculator
atoms = ase.io.read(sys.argv[1], int(sys.argv[2]))
atoms.calc = MetatomicCalculator("model.pt", extensions_directory="ext")
print(json.dumps({
    "forces": atoms.get_forces().tolist(),
    "stress": atoms.get_stress(voigt=False).tolist() if atoms.pbc.all() else None,
    "sphericart_python": "sphericart.torch" in sys.modules,
}))
"""


def test_export_has_exact_forces_without_sphericart_python(carbon, tmp_path):
    """sphericart-torch registers the derivatives of its operator from Python: the
    exported model must not depend on that to get the angular part of the forces
    and stress right."""
    model = tiny_model(carbon)
    index = 5
    batch = batch_of(model, carbon, [index], ["positions", "strain"])
    position_gradient, strain_gradient = torch.autograd.grad(
        energies(model, batch).sum(), [batch.positions[0], batch.strains[0]]
    )
    model.export().save(
        str(tmp_path / "model.pt"), collect_extensions=str(tmp_path / "ext")
    )
    data = RESOURCES / "carbon_reduced_100.xyz"
    result = subprocess.run(
        [sys.executable, "-c", ENGINE_SCRIPT, str(data), str(index)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(result.stdout.splitlines()[-1])
    assert not found["sphericart_python"]
    np.testing.assert_allclose(found["forces"], -position_gradient.numpy(), atol=1e-9)
    volume = ase.io.read(data, index).get_volume()
    np.testing.assert_allclose(
        found["stress"], strain_gradient.numpy() / volume, atol=1e-9
    )


def test_export_in_float32(ethanol):
    model = tiny_model(ethanol).to(torch.float32)
    assert model.export().capabilities().dtype == "float32"


@pytest.mark.parametrize("context", ["restart", "finetune", "export"])
def test_checkpoint_round_trip(ethanol, tmp_path, context):
    model = tiny_model(ethanol)
    model.composition_baseline.fit([ethanol])
    write_checkpoint_file(model.get_checkpoint(), tmp_path / "model.ckpt")
    checkpoint = SoapBpnn.upgrade_checkpoint(
        read_checkpoint_file(tmp_path / "model.ckpt")
    )
    loaded = SoapBpnn.load_checkpoint(checkpoint, context=context)
    assert loaded.dataset_info == model.dataset_info
    assert loaded.dtype() == torch.float64
    batch = batch_of(model, ethanol, [0, 1, 2], labels=False)
    torch.testing.assert_close(energies(loaded, batch), energies(model, batch))


def test_restart_adds_heads_for_new_targets_and_refuses_new_types(ethanol):
    model = tiny_model(ethanol)
    batch = batch_of(model, ethanol, [0, 1], labels=False)
    before = energies(model, batch)
    more = DatasetInfo(
        length_unit="angstrom",
        atomic_types=[1, 6],
        targets={"mtt::gap": TargetInfo(quantity="energy", unit="eV")},
    )
    restarted = model.restart(more)
    assert "mtt::gap" in restarted.supported_outputs()
    torch.testing.assert_close(energies(restarted, batch), before)
    outputs = restarted(batch.systems, {"mtt::gap": ModelOutput()}, None)
    assert outputs["mtt::gap"].block().values.dtype == torch.float64
    with pytest.raises(NewAtomicTypesError, match=r"atomic types \[7\]"):
        model.restart(DatasetInfo(atomic_types=[1, 7], targets={}))


def test_a_newer_checkpoint_is_refused(ethanol):
    checkpoint = tiny_model(ethanol).get_checkpoint()
    checkpoint["model_checkpoint_version"] = SoapBpnn.__checkpoint_version__ + 1
    with pytest.raises(CheckpointVersionError, match="needs a newer atomtrain"):
        SoapBpnn.upgrade_checkpoint(checkpoint)


def test_zbl_adds_the_nuclear_repulsion_to_every_energy(ethanol):
    with_zbl = tiny_model(ethanol, zbl=True)
    without = tiny_model(ethanol)
    without.load_state_dict(with_zbl.state_dict())
    batch = batch_of(with_zbl, ethanol, range(8), labels=False)
    difference = energies(with_zbl, batch) - energies(without, batch)
    per_atom = with_zbl.zbl.potential[0](batch.systems)
    per_structure = per_atom.reshape(8, 9).sum(dim=1)
    expected = per_structure * energy_conversion(ethanol.info.targets["energy"].unit)
    # O-H bonds of the vibrating molecules come closer than the switch-off distance
    assert float(expected.max()) > 1e-6
    torch.testing.assert_close(difference, expected, rtol=1e-9, atol=1e-12)
    range_ = with_zbl.export().capabilities().interaction_range
    assert range_ == max(TINY["soap"]["cutoff"]["radius"], 2 * 0.76)


def test_a_version_1_checkpoint_upgrades_with_zbl_off():
    v1 = read_checkpoint_file(
        RESOURCES / "checkpoints" / "soap_bpnn-model-v1-trainer-v1.ckpt"
    )
    assert "zbl" not in v1["model"]["hypers"]
    model = SoapBpnn.load_checkpoint(SoapBpnn.upgrade_checkpoint(v1), "restart")
    assert model.hypers["zbl"] is False and len(model.zbl.potential) == 0
