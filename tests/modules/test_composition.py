from pathlib import Path
from typing import Dict, List

import ase
import numpy as np
import pytest
import torch
from metatensor.torch import Labels
from metatomic.torch import ModelOutput, System

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import TargetInfo
from atomtrain.errors import DataError, OptionsError
from atomtrain.modules.composition import CompositionBaseline

QM9_WEIGHTS = {1: -0.5, 6: -37.8, 7: -54.6, 8: -75.1}
VECTOR = TargetInfo(quantity="", unit="", kind="cartesian", rank=1)
ENERGY_KCAL = TargetInfo(quantity="energy", unit="kcal/mol", gradients=("positions",))


def systems_of(dataset: InMemoryDataset, dtype: torch.dtype) -> List[System]:
    return [
        System(
            types=s.types,
            positions=s.positions.to(dtype),
            cell=s.cell.to(dtype),
            pbc=s.pbc,
        )
        for s in dataset
    ]


def synthetic_qm9(frames: List[ase.Atoms], path: Path, make_dataset) -> InMemoryDataset:
    """QM9 structures labelled with two properties made from chosen weights."""

    def label(atoms: ase.Atoms) -> np.ndarray:
        first = sum(QM9_WEIGHTS[int(z)] for z in atoms.numbers)
        second = sum(2.0 * int(z) for z in atoms.numbers)
        return np.array([[first, second]])

    info = TargetInfo(quantity="energy", unit="Hartree", num_subtargets=2)
    return make_dataset(path, {"energy": label}, {"energy": info}, frames)


def test_fit_recovers_the_weights_that_made_the_labels(
    qm9_frames, resources, make_dataset
):
    dataset = synthetic_qm9(qm9_frames, resources / "qm9_reduced_100.xyz", make_dataset)
    baseline = CompositionBaseline(dataset.info.atomic_types, dataset.info.targets)
    baseline.fit([dataset])
    expected = torch.tensor(
        [[QM9_WEIGHTS[t], 2.0 * t] for t in baseline.atomic_types], dtype=torch.float64
    )
    weights = baseline.target_weights("energy")
    assert weights.dtype == torch.float64
    torch.testing.assert_close(weights, expected, rtol=0, atol=1e-10)


def test_fit_on_real_energies_solves_the_normal_equations(
    qm9_frames, resources, make_dataset
):
    def u0(atoms: ase.Atoms) -> np.ndarray:
        return np.array([[atoms.info["U0"]]])

    info = TargetInfo(quantity="energy", unit="Hartree")
    path = resources / "qm9_reduced_100.xyz"
    dataset = make_dataset(path, {"U0": u0}, {"U0": info}, qm9_frames)
    baseline = CompositionBaseline(dataset.info.atomic_types, dataset.info.targets)
    baseline.fit([dataset])
    types = torch.tensor(baseline.atomic_types)
    counts = torch.stack(
        [(s.types.reshape(-1, 1) == types).sum(dim=0) for s in dataset]
    ).double()
    labels = torch.cat([s.targets["U0"].blocks[0] for s in dataset])
    residual = labels - counts @ baseline.target_weights("U0")
    # least squares: the residual is orthogonal to every element-count column
    assert (counts.T @ residual).abs().max() < 1e-8 * labels.abs().max()
    per_atom = residual[:, 0] / counts.sum(dim=1)
    assert per_atom.abs().mean() < 0.01  # Hartree/atom, against ~ -40 Hartree/atom


def test_fit_of_one_composition_predicts_the_mean(ethanol):
    baseline = CompositionBaseline(ethanol.info.atomic_types, ethanol.info.targets)
    baseline.fit([ethanol])
    labels = torch.cat([s.targets["energy"].blocks[0] for s in ethanol])
    predicted = torch.cat([baseline.contributions(s.types, "energy") for s in ethanol])
    residual = labels - predicted
    assert abs(float(residual.mean())) < 1e-8 * float(labels.abs().mean())
    torch.testing.assert_close(predicted, torch.full_like(labels, float(labels.mean())))


def test_fixed_values_are_kept_and_the_others_fitted(
    qm9_frames, resources, make_dataset
):
    dataset = synthetic_qm9(qm9_frames, resources / "qm9_reduced_100.xyz", make_dataset)
    baseline = CompositionBaseline(dataset.info.atomic_types, dataset.info.targets)
    baseline.fit([dataset], fixed={"energy": {1: QM9_WEIGHTS[1]}})
    torch.testing.assert_close(
        baseline.target_weights("energy")[:, 0],
        torch.tensor([QM9_WEIGHTS[t] for t in baseline.atomic_types]).double(),
    )

    baseline.fit([dataset], fixed={"energy": {1: 0.0}})
    weights = baseline.target_weights("energy")[:, 0].numpy()
    assert weights[0] == 0.0
    counts = np.array(
        [[np.sum(s.types.numpy() == t) for t in baseline.atomic_types] for s in dataset]
    )
    labels = np.array([float(s.targets["energy"].blocks[0][0, 0]) for s in dataset])
    others = np.linalg.lstsq(counts[:, 1:], labels, rcond=None)[0]
    np.testing.assert_allclose(weights[1:], others, rtol=1e-10)


def test_structures_with_nan_labels_are_skipped(qm9_frames, resources, make_dataset):
    path = resources / "qm9_reduced_100.xyz"
    clean = synthetic_qm9(qm9_frames, path, make_dataset)
    noisy = synthetic_qm9(qm9_frames, path, make_dataset)
    for i in (3, 17, 42):
        noisy[i].targets["energy"].blocks[0][0, 0] = float("nan")
        noisy[i].targets["energy"].blocks[0][0, 1] += 1000.0
    baseline = CompositionBaseline(clean.info.atomic_types, clean.info.targets)
    baseline.fit([noisy])
    weights = baseline.target_weights("energy")
    # property 0 ignores the NaN structures; property 1 sees their (shifted) labels
    torch.testing.assert_close(
        weights[:, 0],
        torch.tensor([QM9_WEIGHTS[t] for t in baseline.atomic_types]).double(),
    )
    assert not torch.allclose(
        weights[:, 1], 2.0 * torch.tensor(baseline.atomic_types).double()
    )


def test_per_atom_targets_get_the_mean_of_each_element(resources, make_dataset):
    def force_norms(atoms: ase.Atoms) -> np.ndarray:
        forces = atoms.get_forces()
        return np.stack([np.linalg.norm(forces, axis=1), forces[:, 0]], axis=1)

    path = resources / "ethanol_reduced_100.xyz"
    info = TargetInfo(unit="kcal/mol/A", sample_kind="atom", num_subtargets=2)
    dataset = make_dataset(
        path, {"mtt::force_norm": force_norms}, {"mtt::force_norm": info}
    )
    baseline = CompositionBaseline([1, 6, 7, 8], dataset.info.targets)
    baseline.fit([dataset])
    types = np.concatenate([s.types.numpy() for s in dataset])
    values = np.concatenate(
        [s.targets["mtt::force_norm"].blocks[0].numpy() for s in dataset]
    )
    weights = baseline.target_weights("mtt::force_norm").numpy()
    for row, atomic_type in enumerate([1, 6, 7, 8]):
        selected = values[types == atomic_type]
        expected = selected.mean(axis=0) if len(selected) else np.zeros(2)
        np.testing.assert_allclose(weights[row], expected, rtol=1e-12)
    contributions = baseline.contributions(dataset[0].types, "mtt::force_norm")
    assert contributions.shape == (9, 2)


def test_an_element_missing_from_atomic_types_names_the_structure(ethanol):
    baseline = CompositionBaseline([1, 6], ethanol.info.targets)
    with pytest.raises(DataError, match="atomic type 8 is not among") as error:
        baseline.fit([ethanol])
    message = str(error.value)
    assert "ethanol_reduced_100.xyz" in message
    assert "structure 0" in message


def test_fixed_values_for_unknown_targets_and_types_are_all_reported(ethanol):
    baseline = CompositionBaseline(ethanol.info.atomic_types, ethanol.info.targets)
    with pytest.raises(OptionsError) as error:
        baseline.fit([ethanol], fixed={"energie": {1: 0.0}, "energy": {79: 1.0}})
    message = str(error.value)
    assert "2 problems" in message
    assert "architecture.training.atomic_baseline.energie" in message
    assert "architecture.training.atomic_baseline.energy.79" in message


def test_only_invariant_scalars_get_a_baseline():
    targets: Dict[str, TargetInfo] = {
        "energy": ENERGY_KCAL,
        "mtt::dipole": VECTOR,
        "mtt::charge": TargetInfo(sample_kind="atom"),
    }
    baseline = CompositionBaseline([1, 8], targets)
    assert baseline.supported_targets == ["energy", "mtt::charge"]
    with pytest.raises(KeyError, match="no target 'mtt::dipole'"):
        baseline.target_weights("mtt::dipole")


def fitted_ethanol(ethanol: InMemoryDataset) -> CompositionBaseline:
    targets = {**ethanol.info.targets, "mtt::charge": TargetInfo(sample_kind="atom")}
    baseline = CompositionBaseline(ethanol.info.atomic_types, targets)
    baseline.fit([ethanol])
    baseline.target_weights("mtt::charge").copy_(torch.tensor([[0.1], [-0.2], [-0.3]]))
    return baseline


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_forward_matches_the_contributions_and_the_target_layout(ethanol, dtype):
    baseline = fitted_ethanol(ethanol)
    baseline.to(dtype)
    assert baseline.target_weights("energy").dtype == torch.float64
    systems = systems_of(ethanol.subset([0, 5, 9]), dtype)
    outputs = {"energy": ModelOutput(), "mtt::charge": ModelOutput(sample_kind="atom")}
    results = baseline(systems, outputs)

    for name, info in baseline.target_infos.items():
        layout = info.layout(name)
        block = results[name].block()
        assert results[name].keys == layout.keys
        assert block.samples.names == layout.block().samples.names
        assert block.properties == layout.block().properties
        assert block.values.dtype == dtype

    energies = results["energy"].block().values
    expected = torch.cat([baseline.contributions(s.types, "energy") for s in systems])
    torch.testing.assert_close(energies, expected.to(dtype))
    charges = results["mtt::charge"].block()
    assert charges.values.shape == (27, 1)
    assert charges.samples.values[9].tolist() == [1, 0]
    charge_of = {1: 0.1, 6: -0.2, 8: -0.3}
    expected_charges = [charge_of[int(t)] for s in systems for t in s.types]
    assert charges.values[:, 0].tolist() == pytest.approx(expected_charges)


def test_per_atom_energies_and_selected_atoms(ethanol):
    baseline = fitted_ethanol(ethanol)
    systems = systems_of(ethanol.subset([0, 1]), torch.float64)
    selected = Labels(["system", "atom"], torch.tensor([[0, 2], [1, 0], [1, 8]]).int())
    per_atom = baseline(systems, {"energy": ModelOutput(sample_kind="atom")}, selected)
    block = per_atom["energy"].block()
    assert block.samples.values.tolist() == [[0, 2], [1, 0], [1, 8]]
    weights = baseline.target_weights("energy")[:, 0]
    row = {t: i for i, t in enumerate(baseline.atomic_types)}
    expected = torch.stack(
        [weights[row[int(systems[s].types[a])]] for s, a in [(0, 2), (1, 0), (1, 8)]]
    )
    torch.testing.assert_close(block.values[:, 0], expected)

    summed = baseline(systems, {"energy": ModelOutput()}, selected)["energy"].block()
    torch.testing.assert_close(
        summed.values[:, 0], torch.stack([expected[0], expected[1] + expected[2]])
    )


def test_unknown_type_in_forward_is_an_error(ethanol):
    baseline = CompositionBaseline([1, 6], {"energy": ENERGY_KCAL})
    with pytest.raises(ValueError, match="atomic type 8 is not among"):
        baseline(
            systems_of(ethanol.subset([0]), torch.float64), {"energy": ModelOutput()}
        )


def test_energy_is_differentiable_with_zero_gradient(ethanol):
    baseline = fitted_ethanol(ethanol)
    system = systems_of(ethanol.subset([0]), torch.float64)[0]
    positions = system.positions.clone().requires_grad_(True)
    system = System(
        types=system.types, positions=positions, cell=system.cell, pbc=system.pbc
    )
    energy_map = baseline([system], {"energy": ModelOutput()})["energy"]
    energy_map.block().values.sum().backward()
    assert positions.grad is not None
    assert torch.all(positions.grad == 0)


def test_torchscript_save_and_load(ethanol, tmp_path):
    baseline = fitted_ethanol(ethanol)
    systems = systems_of(ethanol.subset([0, 1]), torch.float32)
    outputs = {"energy": ModelOutput(), "mtt::charge": ModelOutput(sample_kind="atom")}
    eager = baseline(systems, outputs)
    torch.jit.save(torch.jit.script(baseline), tmp_path / "baseline.pt")
    loaded = torch.jit.load(tmp_path / "baseline.pt")
    scripted = loaded(systems, outputs)
    for name in outputs:
        torch.testing.assert_close(
            scripted[name].block().values, eager[name].block().values
        )


def test_extended_keeps_known_weights(ethanol):
    baseline = fitted_ethanol(ethanol)
    extended = baseline.extended(
        [1, 6, 7, 8], {**baseline.target_infos, "mtt::u": TargetInfo()}
    )
    old = baseline.target_weights("energy")
    new = extended.target_weights("energy")
    torch.testing.assert_close(new[[0, 1, 3]], old)
    assert new[2, 0] == 0.0
    assert extended.supported_targets == ["energy", "mtt::charge", "mtt::u"]


def test_labels_made_of_the_fitted_weights_are_fitted_exactly(
    ethanol, resources, make_dataset
):
    """A second fit on labels predicted by the first fit returns the same weights."""
    first = CompositionBaseline(ethanol.info.atomic_types, ethanol.info.targets)
    first.fit([ethanol])

    def predicted(atoms: ase.Atoms) -> np.ndarray:
        types = torch.tensor(atoms.numbers)
        return first.contributions(types, "energy").numpy()

    path = resources / "ethanol_reduced_100.xyz"
    again = make_dataset(path, {"energy": predicted}, {"energy": ENERGY_KCAL})
    second = CompositionBaseline(ethanol.info.atomic_types, ethanol.info.targets)
    second.fit([again])
    torch.testing.assert_close(
        second.target_weights("energy"), first.target_weights("energy")
    )


def test_the_fit_gathers_the_data_in_chunks(
    qm9_frames, resources, make_dataset, monkeypatch
):
    from atomtrain.modules import composition_solve

    dataset = synthetic_qm9(qm9_frames, resources / "qm9_reduced_100.xyz", make_dataset)
    whole = CompositionBaseline(dataset.info.atomic_types, dataset.info.targets)
    whole.fit([dataset.subset(range(60)), dataset.subset(range(60, 100))])
    monkeypatch.setattr(composition_solve, "CHUNK", 7)
    chunked = CompositionBaseline(dataset.info.atomic_types, dataset.info.targets)
    chunked.fit([dataset.subset(range(60)), dataset.subset(range(60, 100))])
    torch.testing.assert_close(
        chunked.target_weights("energy"), whole.target_weights("energy"), rtol=0, atol=0
    )
