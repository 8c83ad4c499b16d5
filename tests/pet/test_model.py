"""PET's physics and outputs: forces against finite differences, invariances,
smoothness at the cutoff, independence of the structures of a batch, every output kind,
``selected_atoms``, and what the model refuses."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Callable, List

import numpy as np
import pytest
import torch
from metatensor.torch import Labels
from metatomic.torch import ModelOutput, System
from metatomic_ase import MetatomicCalculator
from pet_helpers import ENERGY, systems_of, tiny_hypers
from vesin.metatomic import neighbor_lists_for_model

from atomtrain.checkpoints import (
    CheckpointVersionError,
    checkpoint_fingerprint,
    checkpoint_signature,
    read_checkpoint_file,
    write_checkpoint_file,
)
from atomtrain.data.batching import Batch, BatchBuilder
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure
from atomtrain.errors import UserError
from atomtrain.pet import PET, Trainer
from atomtrain.pet.model import UnsupportedTargetError, last_layer_features_name
from atomtrain.training.predict import predict

GOLDEN = Path(__file__).parents[1] / "resources" / "checkpoints"


def energies(model: PET, structures, **kwargs) -> torch.Tensor:
    systems = systems_of(structures, model.neighbors, **kwargs)
    return model(systems, {"energy": ModelOutput()})["energy"].block().values.detach()


def make_model(info: DatasetInfo, seed: int = 0, **changes) -> PET:
    torch.manual_seed(seed)
    return PET(tiny_hypers(**changes), info).to(torch.float64).eval()


@pytest.fixture
def model(ethanol) -> PET:
    return make_model(ethanol.info)


def central_difference(
    energy: Callable[[Structure], float],
    structure: Structure,
    atom: int,
    axis: int,
    step: float = 1e-5,
) -> float:
    """dE/dx of ``atom`` along ``axis`` by a central finite difference."""
    displaced = []
    for sign in (1.0, -1.0):
        positions = structure.positions.clone()
        positions[atom, axis] += sign * step
        displaced.append(energy(replace(structure, positions=positions)))
    return (displaced[0] - displaced[1]) / (2 * step)


def test_forces_are_minus_the_energy_gradient(model, ethanol):
    structure = ethanol[0]
    systems = systems_of([structure], model.neighbors, requires_grad=True)
    energy = model(systems, {"energy": ModelOutput()})["energy"].block().values
    (gradient,) = torch.autograd.grad(energy.sum(), [systems[0].positions])
    for atom, axis in [(0, 0), (3, 1), (8, 2)]:
        finite = central_difference(
            lambda moved: float(energies(model, [moved])[0]), structure, atom, axis
        )
        assert float(gradient[atom, axis]) == pytest.approx(finite, rel=1e-6, abs=1e-9)


def test_energy_is_invariant_under_permutation_and_translation(model, ethanol):
    structure = ethanol[5]
    permutation = torch.randperm(
        len(structure), generator=torch.Generator().manual_seed(3)
    )
    permuted = replace(
        structure,
        types=structure.types[permutation],
        positions=structure.positions[permutation],
    )
    translated = replace(
        structure, positions=structure.positions + torch.tensor([1.5, -7.0, 0.25])
    )
    reference, other, moved = energies(model, [structure, permuted, translated])
    torch.testing.assert_close(other, reference, rtol=0, atol=1e-10)
    torch.testing.assert_close(moved, reference, rtol=0, atol=1e-10)


def dimer(distance: float) -> Structure:
    return Structure(
        types=torch.tensor([8, 1, 6], dtype=torch.int32),
        positions=torch.tensor(
            [[0.0, 0.0, 0.0], [0.9, 0.3, 0.0], [distance, 0.0, 0.0]],
            dtype=torch.float64,
        ),
        cell=torch.zeros((3, 3), dtype=torch.float64),
        pbc=torch.zeros(3, dtype=torch.bool),
    )


@pytest.mark.parametrize("function", ["Bump", "Cosine"])
def test_energy_is_continuous_when_an_atom_crosses_the_cutoff(ethanol, function):
    model = make_model(ethanol.info, cutoff_function=function)
    cutoff = model.cutoff
    # the carbon leaves the oxygen's neighbourhood at distance `cutoff`, and the
    # hydrogen's a little further: the energy must not jump at either crossing
    crossings = [cutoff, 0.9 + math.sqrt(cutoff**2 - 0.3**2)]
    distances = torch.linspace(cutoff - 0.6, cutoff + 0.6, 25, dtype=torch.float64)
    values = energies(model, [dimer(float(d)) for d in distances])[:, 0]
    assert float(values.std()) > 1e-4  # the carbon does interact inside the cutoff
    # other neighbours make the energy vary smoothly everywhere: across a crossing it
    # may change by its typical slope times the step, a jump would not shrink
    slope = float(
        ((values[1:] - values[:-1]) / (distances[1] - distances[0])).abs().max()
    )
    for crossing in crossings:
        for delta in (1e-3, 1e-6):
            inside, outside = energies(
                model, [dimer(crossing - delta), dimer(crossing + delta)]
            )[:, 0]
            assert float((inside - outside).abs()) < 2 * slope * (2 * delta) + 1e-12
    # once out of both neighbourhoods, the carbon no longer counts at all
    left, far = energies(model, [dimer(crossings[1] + 0.01), dimer(cutoff + 5.0)])
    torch.testing.assert_close(left, far, rtol=0, atol=1e-12)


def test_no_gradient_flows_between_structures(model, ethanol):
    systems = systems_of([ethanol[0], ethanol[1]], model.neighbors, requires_grad=True)
    energy = model(systems, {"energy": ModelOutput()})["energy"].block().values
    (other,) = torch.autograd.grad(energy[0, 0], [systems[1].positions])
    assert torch.all(other == 0.0)
    # and each structure's energy does not depend on its batch neighbours
    alone = energies(model, [ethanol[0]])
    torch.testing.assert_close(energy[:1], alone, rtol=0, atol=1e-10)


def test_training_mode_attention_matches_the_fused_kernel(ethanol):
    model = make_model(ethanol.info)
    evaluated = energies(model, list(ethanol)[:3], requires_grad=True)
    model.train()
    trained = energies(model, list(ethanol)[:3], requires_grad=True)
    torch.testing.assert_close(trained, evaluated, rtol=1e-10, atol=1e-10)


def generic_info() -> DatasetInfo:
    return DatasetInfo(
        atomic_types=[1, 6, 8],
        targets={
            "energy": ENERGY,
            "energy/pbe": ENERGY,
            "mtt::charges": TargetInfo(sample_kind="atom", num_subtargets=2),
            "mtt::dipole": TargetInfo(kind="cartesian", rank=1, unit="D"),
            "mtt::polarizability": TargetInfo(
                kind="cartesian", rank=2, num_subtargets=3
            ),
        },
    )


def test_outputs_have_the_layout_of_their_targets(ethanol):
    info = generic_info()
    model = make_model(info)
    systems = systems_of(list(ethanol)[:2], model.neighbors)
    requested = {name: target.model_output() for name, target in info.targets.items()}
    results = model(systems, requested)
    for name, target in info.targets.items():
        layout = target.layout(name)
        block, expected = results[name].block(), layout.block()
        assert results[name].keys == layout.keys
        assert block.samples.names == expected.samples.names
        assert [c.names for c in block.components] == [
            c.names for c in expected.components
        ]
        assert block.properties == expected.properties
        assert block.values.shape[0] == (18 if target.per_atom else 2)
    assert results["mtt::polarizability"].block().values.shape == (2, 3, 3, 3)
    assert not torch.allclose(
        results["energy"].block().values, results["energy/pbe"].block().values
    )


def test_last_layer_features_are_the_input_of_the_last_layer(model, ethanol):
    systems = systems_of(list(ethanol)[:2], model.neighbors)
    name = last_layer_features_name("energy")
    outputs = {
        "energy": ModelOutput(sample_kind="atom"),
        name: ModelOutput(sample_kind="atom"),
        "feature": ModelOutput(sample_kind="atom"),
    }
    model.composition_baseline.active = False
    results = model(systems, outputs)
    features = results[name].block().values
    assert features.shape == (18, 2 * model.num_gnn_layers * 16)
    per_atom = results["energy"].block().values
    torch.testing.assert_close(model.heads["energy"].linear(features), per_atom)
    assert results["feature"].block().values.shape == (18, 2 * (24 + 16))
    summed = model(systems, {"feature": ModelOutput()})["feature"].block()
    assert summed.samples.names == ["system"]
    torch.testing.assert_close(
        summed.values[0], results["feature"].block().values[:9].sum(dim=0)
    )


def test_selected_atoms_are_honoured(model, ethanol):
    systems = systems_of(list(ethanol)[:2], model.neighbors)
    selected = Labels(["system", "atom"], torch.tensor([[0, 1], [0, 4], [1, 0]]))
    per_atom = model(systems, {"energy": ModelOutput(sample_kind="atom")})
    chosen = model(systems, {"energy": ModelOutput(sample_kind="atom")}, selected)
    block = chosen["energy"].block()
    assert block.samples.names == ["system", "atom"]
    assert torch.equal(block.samples.values, selected.values.to(torch.int32))
    full = per_atom["energy"].block().values
    torch.testing.assert_close(block.values, full[[1, 4, 9]])
    summed = model(systems, {"energy": ModelOutput()}, selected)["energy"].block()
    torch.testing.assert_close(summed.values[0], full[[1, 4]].sum(dim=0))


def test_spherical_targets_it_cannot_learn_are_refused_by_name():
    info = DatasetInfo(
        atomic_types=[1, 8],
        targets={
            "mtt::dipole": TargetInfo(kind="spherical", irreps=((1, 1), (1, -1))),
            "mtt::octupole": TargetInfo(kind="spherical", irreps=((3, 1), (0, -1))),
        },
    )
    with pytest.raises(UnsupportedTargetError) as error:
        PET(tiny_hypers(), info)
    message = str(error.value)
    assert (
        "'mtt::octupole' (irreps o3_lambda=3, o3_sigma=1; o3_lambda=0, o3_sigma=-1)"
        in message
    )
    assert "mtt::dipole" not in message


def test_heads_must_divide_the_token_width(ethanol):
    with pytest.raises(UserError, match=r"d_pet .* divisible by .*num_heads"):
        PET(tiny_hypers(d_pet=18, num_heads=4), ethanol.info)


def test_restart_adds_heads_and_refuses_new_types(model, ethanol):
    before = energies(model, [ethanol[0]])
    more = DatasetInfo(atomic_types=[1, 6], targets={"energy/pbe": ENERGY})
    model.restart(more)
    assert "energy/pbe" in model.heads
    assert last_layer_features_name("energy/pbe") in model.supported_outputs()
    torch.testing.assert_close(energies(model, [ethanol[0]]), before)
    with pytest.raises(UnsupportedTargetError, match=r"atomic types \[7\]"):
        model.restart(DatasetInfo(atomic_types=[7], targets={"energy": ENERGY}))


def test_float32_is_the_default_dtype(ethanol):
    assert PET.__supported_dtypes__[0] == torch.float32
    model = PET(tiny_hypers(), ethanol.info).eval()
    values = energies(model, [ethanol[0]], dtype=torch.float32)
    assert values.dtype == torch.float32 and math.isfinite(float(values))


# ---- the plugin contract: TorchScript, export, checkpoints ------------------------


def test_torchscript_save_and_load(model, ethanol, tmp_path):
    structures = list(ethanol)[:3]
    torch.jit.save(torch.jit.script(model), tmp_path / "pet.pt")
    loaded = torch.jit.load(tmp_path / "pet.pt")
    systems = systems_of(structures, model.neighbors)
    scripted = loaded(systems, {"energy": ModelOutput()}, None)["energy"]
    torch.testing.assert_close(scripted.block().values, energies(model, structures))


def test_export_runs_in_ase_with_forces_and_stress(carbon_frames, tmp_path):
    types = sorted({int(z) for atoms in carbon_frames for z in atoms.numbers})
    info = DatasetInfo(
        atomic_types=types,
        targets={
            "energy": TargetInfo(
                quantity="energy", unit="eV", gradients=("positions", "strain")
            )
        },
    )
    torch.manual_seed(0)
    model = PET(tiny_hypers(), info)
    exported = model.export()
    capabilities = exported.capabilities()
    assert capabilities.interaction_range == 2 * 4.0
    assert capabilities.dtype == "float32"
    assert "feature" in capabilities.outputs
    exported.save(str(tmp_path / "pet.pt"))

    atoms = carbon_frames[1].copy()
    atoms.calc = MetatomicCalculator(str(tmp_path / "pet.pt"), device="cpu")
    forces = atoms.get_forces()
    assert forces.shape == (len(atoms), 3)
    assert np.all(np.isfinite(forces)) and np.abs(forces).max() > 0
    assert atoms.get_stress().shape == (6,)
    # the same energy as the model itself, in float32
    structure = Structure(
        types=torch.tensor(atoms.numbers, dtype=torch.int32),
        positions=torch.tensor(atoms.positions),
        cell=torch.tensor(np.asarray(atoms.cell)),
        pbc=torch.tensor(atoms.pbc),
    )
    own = energies(model.eval(), [structure], dtype=torch.float32)
    assert atoms.get_potential_energy() == pytest.approx(float(own), rel=1e-5)


@pytest.mark.parametrize("context", ["restart", "finetune", "export"])
def test_checkpoint_round_trip(model, ethanol, tmp_path, context):
    path = tmp_path / "pet.ckpt"
    write_checkpoint_file(model.get_checkpoint(), path)
    checkpoint = PET.upgrade_checkpoint(read_checkpoint_file(path))
    loaded = PET.load_checkpoint(checkpoint, context=context).to(torch.float64)
    assert loaded.hypers == model.hypers
    assert loaded.dataset_info == model.dataset_info
    structures = list(ethanol)[:4]
    torch.testing.assert_close(
        energies(loaded.eval(), structures), energies(model, structures)
    )


def test_a_restarted_model_checkpoint_keeps_its_new_heads(model, ethanol, tmp_path):
    model.restart(DatasetInfo(atomic_types=[1], targets={"energy/pbe": ENERGY}))
    loaded = PET.load_checkpoint(model.get_checkpoint(), context="restart")
    assert list(loaded.heads) == ["energy", "energy/pbe"]


def test_a_newer_checkpoint_is_refused(model):
    checkpoint = model.get_checkpoint()
    checkpoint["model_checkpoint_version"] = PET.__checkpoint_version__ + 1
    with pytest.raises(CheckpointVersionError, match="needs a newer atomtrain"):
        PET.upgrade_checkpoint(checkpoint)


def test_a_version_1_checkpoint_upgrades_to_unit_output_scales(ethanol):
    # written by PET version 1, before output scaling; the suite checks that every
    # golden file loads, this one that the upgrade keeps what version 1 computed
    v1 = read_checkpoint_file(GOLDEN / "pet-model-v1-trainer-v1.ckpt")
    assert v1["model_checkpoint_version"] == 1
    weights = dict(v1["model"]["state_dict"])
    checkpoint = Trainer.upgrade_checkpoint(PET.upgrade_checkpoint(v1))
    assert checkpoint["model_checkpoint_version"] == PET.__checkpoint_version__
    model = PET.load_checkpoint(checkpoint, context="restart")
    assert model.output_scaler.is_fitted("energy")
    assert model.output_scaler.scale("energy").tolist() == [1.0]
    best = checkpoint["trainer"]["state"]["best_model_state_dict"]
    assert best["output_scaler.scales.energy.fitted"]
    # the network's weights are untouched: version 1's prediction, as built then
    unscaled = PET(model.hypers, model.dataset_info)
    unscaled.load_state_dict(weights, strict=False)
    structures = list(ethanol)[:3]
    torch.testing.assert_close(
        energies(model.to(torch.float64).eval(), structures),
        energies(unscaled.to(torch.float64).eval(), structures),
    )


def test_the_model_format_does_not_change_without_a_version_bump(ethanol):
    name = f"pet-model-v{PET.__checkpoint_version__}-trainer-v1.ckpt"
    golden = read_checkpoint_file(GOLDEN / name)["model"]
    # the golden file's hypers (its number of attention layers, not today's default)
    model = PET(golden["hypers"], ethanol.info).to(torch.float64)
    fresh = model.get_checkpoint()["model"]
    assert checkpoint_fingerprint(fresh) == checkpoint_fingerprint(golden), (
        "the PET model checkpoint format changed but its version did not: bump "
        "PET.__checkpoint_version__, add an upgrade step and store a new golden file "
        f"(the conformance suite's test_format_unchanged_without_version_bump writes "
        f"it).\ngolden: {checkpoint_signature(golden)}\n"
        f"fresh:  {checkpoint_signature(fresh)}"
    )


def test_the_output_scale_multiplies_the_network_output(model, ethanol):
    structures = list(ethanol)[:3]
    model.composition_baseline.active = False
    before = energies(model, structures)
    model.output_scaler.scales["energy"].values.fill_(25.0)
    torch.testing.assert_close(energies(model, structures), 25.0 * before)


def test_zbl_adds_the_nuclear_repulsion_to_every_energy(ethanol):
    with_zbl = make_model(ethanol.info, zbl=True)
    without = make_model(ethanol.info)
    without.load_state_dict(with_zbl.state_dict())
    squeezed = replace(ethanol[0], positions=0.6 * ethanol[0].positions)
    structures = [ethanol[0], squeezed]
    systems = [System(s.types, s.positions.clone(), s.cell, s.pbc) for s in structures]
    for calculator in neighbor_lists_for_model("angstrom", with_zbl, "angstrom"):
        calculator.add_neighbor_list(systems)
    outputs = {"energy": ModelOutput()}
    difference = (
        with_zbl(systems, outputs)["energy"].block().values
        - without(systems, outputs)["energy"].block().values
    )
    per_atom = with_zbl.zbl.potential[0](systems)
    repulsion = torch.stack([per_atom[:9].sum(), per_atom[9:].sum()])
    # the energy target is in kcal/mol, the repulsion in eV
    expected = repulsion * 23.060547830619
    assert float(expected[1]) > 1.0  # squeezed by 40%, the repulsion counts
    torch.testing.assert_close(difference[:, 0], expected, rtol=1e-9, atol=1e-9)
    assert with_zbl.export().capabilities().interaction_range == 2 * 4.0


def test_a_version_2_checkpoint_upgrades_with_zbl_off():
    v2 = read_checkpoint_file(GOLDEN / "pet-model-v2-trainer-v1.ckpt")
    assert "zbl" not in v2["model"]["hypers"]
    model = PET.load_checkpoint(PET.upgrade_checkpoint(v2), context="restart")
    assert model.hypers["zbl"] is False and len(model.zbl.potential) == 0


def test_zbl_forces_are_minus_the_energy_gradient(ethanol):
    # through the training engine's batches, where ZBL's half neighbour list is built
    # next to PET's, both differentiable with respect to the positions
    model = make_model(ethanol.info, zbl=True)
    squeezed = replace(ethanol[0], positions=0.6 * ethanol[0].positions)

    def energy_batch(structure: Structure, gradients: List[str]) -> Batch:
        dataset = InMemoryDataset([structure], ethanol.info, [("squeezed", 0)])
        builder = BatchBuilder(
            model.requested_neighbor_lists(), {"energy": ENERGY}, {}, torch.float64
        )
        return builder(dataset, [0], gradients)

    batch = energy_batch(squeezed, ["positions"])
    outputs = predict(model, batch, {"energy": ENERGY}, training=False)
    gradient = outputs["energy"].block().gradient("positions").values.reshape(-1, 3)

    def energy(structure: Structure) -> float:
        values = predict(model, energy_batch(structure, []), {"energy": ENERGY}, False)
        return float(values["energy"].block().values.detach())

    for atom, axis in [(0, 0), (2, 1), (5, 2)]:
        finite = central_difference(energy, squeezed, atom, axis)
        assert abs(finite) > 100.0  # kcal/mol/Å: the repulsion dominates
        assert float(gradient[atom, axis]) == pytest.approx(finite, rel=1e-6)


def test_the_feedforward_featurizer_reads_out_the_last_layer_only(ethanol):
    residual = make_model(ethanol.info)
    feedforward = make_model(ethanol.info, featurizer_type="feedforward")
    systems = systems_of(list(ethanol)[:2], residual.neighbors)
    name = last_layer_features_name("energy")
    outputs = {name: ModelOutput(sample_kind="atom")}
    widths = [
        m(systems, outputs)[name].block().values.shape[1]
        for m in (residual, feedforward)
    ]
    d_head, layers = tiny_hypers()["d_head"], tiny_hypers()["num_gnn_layers"]
    assert widths == [2 * layers * d_head, 2 * d_head]
    # messages between layers mix both directions of each edge: learned weights
    mixers = [layer.combination for layer in feedforward.encoder.layers]
    assert len(list(mixers[0].parameters())) > 0
    assert len(list(mixers[-1].parameters())) == 0  # nothing after the last layer
    assert all(
        len(list(layer.combination.parameters())) == 0
        for layer in residual.encoder.layers
    )
